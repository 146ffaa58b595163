//! Per-channel templates (webhook body, e-mail subject and body) in minijinja's Jinja syntax.
//!
//! A template is compiled and rendered against [`Payload::sample`] when the site file loads,
//! so a typo (`{{ incident.hots }}`, an unknown filter, a syntax error) is refused then, with
//! the line inside the template, instead of failing the first real notification at night.
//! Undefined names are errors (strict mode) for the same reason. Hostile templates are
//! bounded: a fuel limit stops runaway loops and output is capped.

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::message::Message;
use super::payload::Payload;

/// Rendered output longer than this is refused (a body for an SMS gateway or a chat API,
/// not a document).
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// Instructions a template may execute per render (minijinja fuel): generous for any real
/// message, small enough that `{% for i in range(100000) %}` nested twice stops.
const FUEL: u64 = 200_000;

/// A template that does not compile or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// 1-based line inside the template, when known.
    pub line: Option<usize>,
    /// A plain sentence.
    pub message: String,
}

/// The named templates of one channel (`subject`, `body`).
#[derive(Clone)]
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.env.templates().map(|(n, _)| n).collect();
        f.debug_struct("Templates").field("names", &names).finish()
    }
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        Templates { env }
    }
}

/// What a template sees: every payload field at the top level (`{{ level }}`,
/// `{{ labels.mount }}`, `{{ deadlines.respond.at }}`), plus the default renderings
/// `subject`, `text` and the payload as `json`.
#[derive(Serialize)]
struct Context<'a> {
    #[serde(flatten)]
    payload: &'a Payload,
    subject: &'a str,
    text: &'a str,
    json: &'a str,
}

impl Templates {
    /// Compiles `source` as template `name` and renders it against the sample payload.
    pub fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        self.env
            .add_template_owned(name.to_owned(), source.to_owned())
            .map_err(|e| error(&e))?;
        let sample = Message::new(Payload::sample("sample-site"));
        match self.render(name, &sample) {
            Some(r) => r.map(|_| ()),
            None => Err(TemplateError {
                line: None,
                message: format!("template '{name}' was not kept"),
            }),
        }
    }

    /// Whether template `name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok()
    }

    /// Renders template `name` for `msg`; `None` when the channel has no such template.
    pub fn render(&self, name: &str, msg: &Message) -> Option<Result<String, TemplateError>> {
        let tmpl = self.env.get_template(name).ok()?;
        let cx = Context {
            payload: &msg.payload,
            subject: &msg.subject,
            text: &msg.text,
            json: &msg.json,
        };
        Some(
            tmpl.render(Serde(&cx))
                .map_err(|e| error(&e))
                .and_then(|out| {
                    if out.len() > MAX_OUTPUT_BYTES {
                        Err(TemplateError {
                            line: None,
                            message: format!(
                                "renders {} bytes, more than the {MAX_OUTPUT_BYTES} allowed",
                                out.len()
                            ),
                        })
                    } else {
                        Ok(out)
                    }
                }),
        )
    }
}

fn error(e: &minijinja::Error) -> TemplateError {
    let message = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    TemplateError {
        line: e.line(),
        message,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_payload_fields_and_default_texts() {
        let mut t = Templates::default();
        t.add(
            "body",
            r#"{"to": "duty", "text": {{ subject|tojson }}, "mount": "{{ labels.tablespace }}", "due": "{{ deadlines.respond.at }}"}"#,
        )
        .unwrap();
        let msg = Message::new(Payload::sample("hq"));
        let out = t.render("body", &msg).unwrap().unwrap();
        assert_eq!(
            out,
            r#"{"to": "duty", "text": "[P1] OPENED #42 db1: tablespace USERS 93% on db1/ORCL (limit 90%)", "mount": "USERS", "due": "2026-11-18T11:16:40Z"}"#
        );
        assert!(t.render("subject", &msg).is_none());
    }

    #[test]
    fn an_undefined_name_is_refused_with_its_line() {
        let mut t = Templates::default();
        let e = t
            .add("body", "first line\n{{ incident.hots }}")
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("undefined"), "{}", e.message);
    }

    #[test]
    fn a_syntax_error_is_refused_with_its_line() {
        let mut t = Templates::default();
        let e = t.add("subject", "a\nb\n{% if level %}no end").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("syntax error"), "{}", e.message);
        let e = t.add("subject", "{{ level|shout }}").unwrap_err();
        assert!(e.message.contains("unknown filter"), "{}", e.message);
    }

    #[test]
    fn runaway_templates_are_stopped() {
        let mut t = Templates::default();
        let e = t
            .add(
                "body",
                "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}",
            )
            .unwrap_err();
        assert!(e.message.contains("fuel"), "{}", e.message);
    }
}
