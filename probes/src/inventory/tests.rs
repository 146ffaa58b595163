//! The inventory's parsers on files written in the real formats (`testdata/`: a Dell's and a
//! placeholder-filled board's `/sys/class/dmi/id`, this machine's Debian os-release and a
//! RHEL 8 one, an Oracle 19c central inventory, oratab, database and grid comps.xml, a
//! WebLogic 12.2.1.4 registry.xml and a 10.3.6 `.product.properties`), and one gathering over
//! a tree laid out like a real Oracle host.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use super::*;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/inventory/testdata")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).unwrap()
}

fn facts(pairs: &[(&str, &str)]) -> FactMap {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn dmi_gives_model_serial_and_bios_and_leaves_blanks_out() {
    assert_eq!(
        host::dmi(&testdata("dmi_dell")),
        facts(&[
            ("bios.date", "07/09/2021"),
            ("bios.vendor", "Dell Inc."),
            ("bios.version", "2.12.2"),
            ("hw.model", "PowerEdge R740"),
            ("hw.serial", "7XK2S53"),
            ("hw.vendor", "Dell Inc."),
        ])
    );
}

#[test]
fn firmware_placeholders_and_unreadable_files_give_no_fact() {
    // No product_serial at all (as for a user who may not read it) and "To Be Filled By
    // O.E.M." everywhere the vendor wrote nothing.
    assert_eq!(
        host::dmi(&testdata("dmi_placeholder")),
        facts(&[
            ("bios.date", "03/11/2019"),
            ("bios.vendor", "American Megatrends Inc."),
            ("bios.version", "P2.30"),
        ])
    );
    assert!(host::dmi(Path::new("/nonexistent/dmi")).is_empty());
}

#[test]
fn os_release_of_debian_and_rhel() {
    assert_eq!(
        host::parse_os_release(&text("os-release.debian12")),
        facts(&[
            ("os.id", "debian"),
            ("os.name", "Debian GNU/Linux 12 (bookworm)"),
            ("os.version_id", "12"),
        ])
    );
    assert_eq!(
        host::parse_os_release(&text("os-release.rhel8")),
        facts(&[
            ("os.id", "rhel"),
            ("os.name", "Red Hat Enterprise Linux 8.9 (Ootpa)"),
            ("os.version_id", "8.9"),
        ])
    );
    // Quoting as os-release(5) allows it.
    assert_eq!(
        host::parse_os_release("PRETTY_NAME='Single quoted'\nID=\"a\\\"b\"\n")["os.name"],
        "Single quoted"
    );
    assert_eq!(
        host::parse_os_release("ID=\"a\\\"b\\\\c\"\n")["os.id"],
        "a\"b\\c"
    );
    // The second file is read when the first is missing.
    let read = host::read_os_release(&[
        PathBuf::from("/nonexistent/os-release"),
        testdata("os-release.rhel8"),
    ]);
    assert_eq!(read["os.id"], "rhel");
}

#[test]
fn addresses_without_loopback_and_link_local() {
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let got = host::ip_facts([
        (
            "lo".to_owned(),
            vec![(ip("127.0.0.1"), 8), (ip("::1"), 128)],
        ),
        (
            "eth0".to_owned(),
            vec![
                (ip("fe80::5054:ff:fe12:3456"), 64),
                (ip("2001:db8::5"), 64),
                (ip("192.0.2.5"), 24),
                (ip("192.0.2.6"), 24),
            ],
        ),
        ("veth1a2b".to_owned(), vec![(ip("fe80::1"), 64)]),
    ]);
    assert_eq!(
        got,
        facts(&[("ip[eth0]", "192.0.2.5/24, 192.0.2.6/24, 2001:db8::5/64")])
    );
}

#[test]
fn this_machine_has_a_kernel_memory_and_cpus() {
    let f = host::system();
    let uname = std::process::Command::new("uname")
        .arg("-r")
        .output()
        .unwrap();
    assert_eq!(
        f["kernel.release"],
        String::from_utf8_lossy(&uname.stdout).trim()
    );
    assert!(f["memory.bytes"].parse::<u64>().unwrap() > 0, "{f:?}");
    assert!(f["cpu.count"].parse::<u32>().unwrap() > 0, "{f:?}");
}

#[test]
fn oracle_inventory_files_parse() {
    assert_eq!(
        oracle::parse_ora_inst_loc(&text("oraInst.loc").replace("@ROOT@", "")),
        Some(PathBuf::from("/u01/app/oraInventory"))
    );
    assert_eq!(
        oracle::parse_ora_inst_loc("inventory_loc=relative\n"),
        None,
        "a relative path is no inventory location"
    );
    let tab = text("oratab").replace("@ROOT@", "");
    assert_eq!(
        oracle::parse_oratab(&tab),
        [
            PathBuf::from("/u01/app/oracle/product/19.0.0/dbhome_1"),
            PathBuf::from("/u01/app/19.0.0/grid"),
        ]
    );
    let inventory = text("inventory.xml").replace("@ROOT@", "");
    assert_eq!(
        oracle::parse_central_inventory(&inventory).unwrap(),
        [
            PathBuf::from("/u01/app/19.0.0/grid"),
            PathBuf::from("/u01/app/oracle/product/19.0.0/dbhome_1"),
            PathBuf::from("/u01/oracle/middleware"),
        ],
        "the removed 11g home is left out"
    );
    let err = oracle::parse_central_inventory("<INVENTORY>\n<HOME LOC=/u01>").unwrap_err();
    assert!(
        err.contains("2:"),
        "a damaged file is reported at its line: {err}"
    );
}

#[test]
fn comps_xml_gives_product_version_and_newest_update() {
    let db = oracle::parse_comps(&text("comps.19c.xml"))
        .unwrap()
        .unwrap();
    assert_eq!(db.component, "oracle.server");
    assert_eq!(
        db.describe(),
        "Oracle Database 19c 19.0.0.0.0, Database Release Update : 19.21.0.0.231017 (35643107)"
    );
    let grid = oracle::parse_comps(&text("comps.grid19c.xml"))
        .unwrap()
        .unwrap();
    assert_eq!(grid.describe(), "Oracle Grid Infrastructure 19c 19.0.0.0.0");
    assert_eq!(oracle::parse_comps("<PRD_LIST/>").unwrap(), None);
}

#[test]
fn weblogic_registry_and_product_properties() {
    assert_eq!(
        weblogic::parse_registry(&text("registry.12214.xml")).unwrap(),
        [
            ("WebLogic Server".to_owned(), "12.2.1.4.0".to_owned()),
            (
                "Oracle Fusion Middleware Infrastructure".to_owned(),
                "12.2.1.4.0".to_owned()
            ),
        ]
    );
    assert_eq!(
        weblogic::parse_product_properties(&text("product.properties.1036")).as_deref(),
        Some("10.3.6.0")
    );
}

fn copy_to(from: &str, to: &Path, root: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let root = root.display().to_string();
    std::fs::write(to, text(from).replace("@ROOT@", &root)).unwrap();
}

#[test]
fn an_oracle_host_reports_every_home_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let at = |p: &str| root.join(p.trim_start_matches('/'));
    copy_to("oraInst.loc", &at("/etc/oraInst.loc"), root);
    copy_to("oratab", &at("/etc/oratab"), root);
    copy_to(
        "inventory.xml",
        &at("/u01/app/oraInventory/ContentsXML/inventory.xml"),
        root,
    );
    copy_to(
        "comps.19c.xml",
        &at("/u01/app/oracle/product/19.0.0/dbhome_1/inventory/ContentsXML/comps.xml"),
        root,
    );
    copy_to(
        "comps.grid19c.xml",
        &at("/u01/app/19.0.0/grid/inventory/ContentsXML/comps.xml"),
        root,
    );
    copy_to(
        "registry.12214.xml",
        &at("/u01/oracle/middleware/inventory/registry.xml"),
        root,
    );
    // A WebLogic 10.3.6 home only the configuration names.
    copy_to(
        "product.properties.1036",
        &at("/opt/bea/wlserver_10.3/.product.properties"),
        root,
    );
    let roots = Roots {
        dmi: at("/sys/class/dmi/id"),
        os_release: vec![at("/etc/os-release")],
        ora_inst_loc: at("/etc/oraInst.loc"),
        oratab: at("/etc/oratab"),
    };
    let homes = oracle::homes(&roots, &[], &[at("/opt/bea")]);
    assert_eq!(homes.len(), 4, "{homes:?}");
    let got = oracle::home_facts(&homes);
    let key = |k: &str, p: &str| format!("{k}[{}]", at(p).display());
    assert_eq!(
        got,
        [
            (
                key("oracle", "/u01/app/oracle/product/19.0.0/dbhome_1"),
                "Oracle Database 19c 19.0.0.0.0, Database Release Update : 19.21.0.0.231017 (35643107)"
            ),
            (
                key("oracle", "/u01/app/19.0.0/grid"),
                "Oracle Grid Infrastructure 19c 19.0.0.0.0"
            ),
            (
                key("weblogic", "/u01/oracle/middleware"),
                "WebLogic Server 12.2.1.4.0, Oracle Fusion Middleware Infrastructure 12.2.1.4.0"
            ),
            (key("weblogic", "/opt/bea"), "WebLogic Server 10.3.6.0"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<FactMap>()
    );
    // Nothing of Oracle on a host: nothing reported, no error.
    let bare = Roots {
        ora_inst_loc: at("/nonexistent"),
        oratab: at("/nonexistent"),
        ..roots
    };
    assert!(oracle::home_facts(&oracle::homes(&bare, &[], &[])).is_empty());
}

#[test]
fn sample_toml_parses_and_validates() {
    #[derive(serde::Deserialize)]
    struct File {
        inventory: InventoryConfig,
    }
    let f: File = toml::from_str(include_str!("sample.toml")).unwrap();
    f.inventory.validate().unwrap();
    assert_eq!(f.inventory.weblogic_homes.len(), 2);
}

#[test]
fn the_section_is_checked() {
    let c: InventoryConfig =
        toml::from_str("interval = \"30s\"\noracle_homes = [\"relative/home\"]\n").unwrap();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("[inventory] interval 30s is too short"), "{e}");
    assert!(
        e.contains("[inventory] oracle_homes[0] \"relative/home\" must be an absolute path"),
        "{e}"
    );
    let e = toml::from_str::<InventoryConfig>("intervall = \"2h\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `intervall`"), "{e}");
    InventoryConfig::default().validate().unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    /// Any text as any of the inventory's files: facts or nothing, never a panic.
    #[test]
    fn any_text_is_parsed_without_panicking(text in "(?s).{0,400}") {
        let _ = host::parse_os_release(&text);
        let _ = oracle::parse_ora_inst_loc(&text);
        let _ = oracle::parse_oratab(&text);
        let _ = oracle::parse_central_inventory(&text);
        let _ = oracle::parse_comps(&text);
        let _ = weblogic::parse_registry(&text);
        let _ = weblogic::parse_product_properties(&text);
    }

    /// XML-shaped text reaches the parsers' element handling, not only the XML errors.
    #[test]
    fn xml_shaped_text_is_parsed_without_panicking(
        attrs in proptest::collection::vec("[A-Z_a-z]{1,8}=\"[^\"<&]{0,12}\"", 0..4),
        body in "[^<&]{0,40}",
    ) {
        let a = attrs.join(" ");
        let doc = format!(
            "<PRD_LIST><TL_LIST><COMP {a}><EXT_NAME>{body}</EXT_NAME></COMP></TL_LIST>\
             <ONEOFF_LIST><ONEOFF {a}><DESC>{body}</DESC></ONEOFF></ONEOFF_LIST>\
             <HOME_LIST><HOME {a}/></HOME_LIST><distributions><distribution {a}/></distributions></PRD_LIST>"
        );
        let _ = oracle::parse_comps(&doc);
        let _ = oracle::parse_central_inventory(&doc);
        let _ = weblogic::parse_registry(&doc);
    }
}
