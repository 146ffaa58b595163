//! Whether a `from` or `to` value of an e-mail channel is a mailbox (RFC 5322 §3.4:
//! `user@example.com` or `Display Name <user@example.com>`, display names in UTF-8 as RFC 6532
//! allows).
//!
//! The e-mail channel parses the same text with lettre when it starts; this check runs when the
//! site file is read, where lettre is not linked (`patrolctl site check` links this crate and no
//! mail code). The local part and the domain are checked with `email_address`, as lettre does;
//! the e-mail channel's tests hold the two to the same answers over a table of addresses.

use email_address::EmailAddress;

/// Whether `text` is a single mailbox.
pub fn is_mailbox(text: &str) -> bool {
    let text = text.trim();
    let addr = match text.strip_suffix('>') {
        Some(inner) => {
            let Some(open) = inner.rfind('<') else {
                return false;
            };
            let name = inner[..open].trim();
            if !name.is_empty() && !is_phrase(name) {
                return false;
            }
            inner[open + 1..].trim()
        }
        None => text,
    };
    is_addr_spec(addr)
}

fn is_addr_spec(addr: &str) -> bool {
    let Some((user, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    EmailAddress::is_valid_local_part(user) && is_domain(domain)
}

fn is_domain(domain: &str) -> bool {
    // email_address takes domain literals (`[192.0.2.1]`); lettre's mailbox parser does not.
    if domain.starts_with('[') {
        return false;
    }
    if EmailAddress::is_valid_domain(domain) {
        return true;
    }
    if domain.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    // Internationalised domain names are checked in their ASCII (punycode) form.
    idna::domain_to_ascii(domain).is_ok_and(|ascii| EmailAddress::is_valid_domain(&ascii))
}

/// A display name: words (atoms or quoted strings) separated by white space; periods are
/// accepted as the obsolete syntax allows (`J. Smith`).
fn is_phrase(name: &str) -> bool {
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut closed = false;
                while let Some(q) = chars.next() {
                    match q {
                        '\\' if chars.next().is_none() => return false,
                        '"' => {
                            closed = true;
                            break;
                        }
                        _ => {}
                    }
                }
                if !closed {
                    return false;
                }
            }
            c if c.is_whitespace() || c == '.' || is_atext(c) => {}
            _ => return false,
        }
    }
    true
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Addresses and whether they are mailboxes: shared with the e-mail channel's test that holds
/// this check and lettre's parser to the same answers.
pub const EXAMPLES: &[(&str, bool)] = &[
    ("noc@example.com", true),
    ("NOC <noc@example.com>", true),
    ("Patrol NOC <noc@example.com>", true),
    ("\"Patrol, NOC\" <noc@example.com>", true),
    ("J. Smith <j.smith@example.com>", true),
    ("<noc@example.com>", true),
    ("值班 <duty@example.cn>", true),
    ("duty@例子.中国", true),
    ("first.last+tag@sub.example.co.uk", true),
    ("root@192.0.2.1", true),
    // Domain literals are not taken by lettre's mailbox parser.
    ("root@[192.0.2.1]", false),
    ("root@localhost", true),
    ("noc", false),
    ("noc@", false),
    ("@example.com", false),
    ("noc@@example.com", false),
    ("a b@example.com", false),
    ("Patrol <noc>", false),
    ("Patrol <noc@example.com", false),
    ("Patrol, NOC <noc@example.com>", false),
    ("\"unclosed <noc@example.com>", false),
    ("noc@exa mple.com", false),
    ("", false),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_are_judged_as_listed() {
        for (text, ok) in EXAMPLES {
            assert_eq!(is_mailbox(text), *ok, "{text:?}");
        }
    }
}
