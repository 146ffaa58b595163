//! ipmitool's text output as data: `sdr elist` (one sensor a line) and `sel list` (one event
//! a line). Pure functions over text, panic-free on any input (proptests in `tests.rs`), so
//! they are tested on recorded output of real BMCs and can be fuzzed.
//!
//! `sdr elist` prints, per SDR record (ipmitool `lib/ipmi_sdr.c`, `sdr_extended`):
//! `name | NNh | status | entity.instance | reading`, the name padded to 16 characters. The
//! status of a threshold sensor is `ok`, `lnc`/`unc` (lower/upper non-critical), `lcr`/`ucr`
//! (critical), `lnr`/`unr` (non-recoverable), or `ns` when it has no reading (older
//! ipmitool prints `nc`, `cr`, `nr`); a discrete sensor is `ok` or `ns` and says what is
//! wrong in its reading text (`Presence detected, Power Supply AC lost`). The reading is
//! `value unit` (`23 degrees C`), a list of asserted states, both joined by `, `, or
//! `No Reading` / `Disabled` / `Event-Only`. MC and FRU locator records (`Static MC @ 20h`)
//! are not sensors.
//!
//! `sel list` prints `id | date | time | sensor | event | direction` (direction missing on a
//! few OEM records), or `SEL has no entries`.

/// Longest sensor name kept (SDR ID strings are at most 16 bytes; longer is not ipmitool's).
const MAX_NAME_CHARS: usize = 64;
/// Longest unit text kept.
const MAX_UNIT_CHARS: usize = 32;

/// How bad a sensor is, worst last (ordered, so the worse of two is `max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Ok,
    /// Non-critical (warning) threshold crossed, or a predictive failure / degraded state.
    NonCritical,
    /// Critical threshold crossed, or a failure, lost input or lost redundancy asserted.
    Critical,
    /// Non-recoverable threshold crossed.
    NonRecoverable,
}

impl Severity {
    /// The value of `ipmi_sensor_severity`.
    pub fn level(self) -> f64 {
        match self {
            Self::Ok => 0.0,
            Self::NonCritical => 1.0,
            Self::Critical => 2.0,
            Self::NonRecoverable => 3.0,
        }
    }
}

/// The status column: a severity, or no reading (`ns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Read(Severity),
    NoReading,
}

fn status(text: &str) -> Option<Status> {
    Some(match text {
        "ok" => Status::Read(Severity::Ok),
        "nc" | "lnc" | "unc" => Status::Read(Severity::NonCritical),
        "cr" | "lcr" | "ucr" => Status::Read(Severity::Critical),
        "nr" | "lnr" | "unr" => Status::Read(Severity::NonRecoverable),
        "ns" => Status::NoReading,
        _ => return None,
    })
}

/// One sensor line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensor {
    pub name: String,
    /// Sensor number, as printed (`30h`).
    pub number: String,
    pub status: Status,
    /// Entity ID and instance (`10.1`: power supply 1). IPMI spec table 43-13.
    pub entity: String,
    /// The analog reading and its unit as Patrol names it (`celsius`, `rpm`, `volts`).
    pub value: Option<(f64, String)>,
    /// The discrete states (reading text after the value, or all of it).
    pub states: String,
}

impl Sensor {
    /// What the sensor measures: from its unit, else from its entity (sdr elist prints no
    /// sensor type).
    pub fn kind(&self) -> &'static str {
        if let Some((_, unit)) = &self.value {
            match unit.as_str() {
                "celsius" | "fahrenheit" | "kelvin" => return "temperature",
                "rpm" => return "fan",
                "volts" => return "voltage",
                "amperes" => return "current",
                "watts" => return "power",
                _ => {}
            }
        }
        let entity_id = self.entity.split('.').next().unwrap_or("");
        match entity_id {
            "10" | "19" | "20" => "power_supply",
            "29" | "30" => "fan",
            "3" => "processor",
            "32" => "memory",
            "4" | "11" => "drive_bay",
            _ => "other",
        }
    }

    /// Worst of the status column and the asserted states; `None` without a reading.
    pub fn severity(&self) -> Option<Severity> {
        match self.status {
            Status::NoReading => None,
            Status::Read(s) => Some(s.max(state_severity(&self.states))),
        }
    }
}

/// What the discrete states say (ipmitool's texts for sensor-specific offsets, IPMI spec
/// table 42-3: `Failure detected`, `Power Supply AC lost`, `Redundancy Lost`,
/// `Transition to Critical from less severe`, `Predictive failure`, `Drive Fault`...).
pub fn state_severity(states: &str) -> Severity {
    let text = states.to_ascii_lowercase();
    if text.contains("non-recoverable") {
        return Severity::NonRecoverable;
    }
    // "Non-Critical" holds "critical": take it out before looking for the critical words.
    let without_non_critical = text.replace("non-critical", "");
    const CRITICAL: [&str; 13] = [
        "failure detected",
        "ac lost",
        "out-of-range",
        "redundancy lost",
        "non-redundant",
        "critical",
        "fault",
        "ierr",
        "thermal trip",
        "uncorrectable",
        "config error",
        "configuration error",
        "failed",
    ];
    if CRITICAL.iter().any(|w| without_non_critical.contains(w)) {
        return Severity::Critical;
    }
    const WARNING: [&str; 3] = ["predictive failure", "degraded", "non-critical"];
    if WARNING.iter().any(|w| text.contains(w)) {
        return Severity::NonCritical;
    }
    Severity::Ok
}

/// Patrol's name of an ipmitool unit (`unit_desc[]` in ipmitool's `ipmi_sdr.c`).
fn unit_name(unit: &str) -> String {
    match unit {
        "degrees C" => "celsius".into(),
        "degrees F" => "fahrenheit".into(),
        "degrees K" => "kelvin".into(),
        "RPM" => "rpm".into(),
        "Volts" => "volts".into(),
        "Amps" => "amperes".into(),
        "Watts" => "watts".into(),
        other => {
            let mut name: String = other
                .chars()
                .take(MAX_UNIT_CHARS)
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            if name.is_empty() {
                name.push_str("unspecified");
            }
            name
        }
    }
}

/// `"23 degrees C"` → (23, celsius); `None` when the text does not start with a number
/// followed by a unit.
fn analog(text: &str) -> Option<(f64, String)> {
    let (number, unit) = text.trim().split_once(' ')?;
    let value: f64 = number.parse().ok().filter(|v: &f64| v.is_finite())?;
    let unit = unit.trim();
    if unit.is_empty() || !unit.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((value, unit_name(unit)))
}

/// The reading column split into the analog value and the asserted states.
fn reading(text: &str) -> (Option<(f64, String)>, String) {
    let text = text.trim();
    let (head, rest) = match text.split_once(", ") {
        Some((h, r)) => (h, Some(r)),
        None => (text, None),
    };
    match analog(head) {
        Some(value) => (Some(value), rest.unwrap_or("").trim().to_owned()),
        None => (None, text.to_owned()),
    }
}

/// `sdr elist` parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sdr {
    pub sensors: Vec<Sensor>,
    /// MC and FRU locator records: listed, not sensors.
    pub locators: usize,
    /// Lines that are not `sdr elist` lines.
    pub malformed: usize,
}

fn is_sensor_number(text: &str) -> bool {
    text.strip_suffix('h').is_some_and(|hex| {
        !hex.is_empty() && hex.len() <= 2 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn is_entity(text: &str) -> bool {
    text.split_once('.').is_some_and(|(id, instance)| {
        !id.is_empty()
            && !instance.is_empty()
            && id.len() <= 3
            && instance.len() <= 3
            && id.bytes().all(|b| b.is_ascii_digit())
            && instance.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Parses `ipmitool sdr elist` output.
pub fn parse_sdr(text: &str) -> Sdr {
    let mut sdr = Sdr::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        // From the right: a name may hold '|', the four other fields never do.
        let mut fields = line.rsplitn(5, '|');
        let (Some(reading_text), Some(entity), Some(status_text), Some(number), Some(name)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            sdr.malformed += 1;
            continue;
        };
        let (entity, number) = (entity.trim(), number.trim());
        let Some(status) = status(status_text.trim()) else {
            sdr.malformed += 1;
            continue;
        };
        if !is_sensor_number(number) || !is_entity(entity) {
            sdr.malformed += 1;
            continue;
        }
        if reading_text.contains(" MC @ ") || reading_text.contains("FRU @") {
            sdr.locators += 1;
            continue;
        }
        let name = name.trim();
        let name = if name.is_empty() {
            format!("sensor {number}")
        } else {
            name.chars().take(MAX_NAME_CHARS).collect()
        };
        let (value, states) = reading(reading_text);
        // A sensor without a reading has no value, whatever the text says.
        let value = if status == Status::NoReading {
            None
        } else {
            value
        };
        sdr.sensors.push(Sensor {
            name,
            number: number.to_owned(),
            status,
            entity: entity.to_owned(),
            value,
            states,
        });
    }
    sdr
}

/// One System Event Log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelEntry {
    /// Record ID, hexadecimal as printed.
    pub id: String,
    /// `Power Supply #0x63`, `Temperature CPU1 Temp`.
    pub sensor: String,
    pub event: String,
    /// `Asserted`, `Deasserted`, or empty.
    pub direction: String,
}

/// `sel list` parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sel {
    pub entries: Vec<SelEntry>,
    pub malformed: usize,
}

/// Parses `ipmitool sel list` output.
pub fn parse_sel(text: &str) -> Sel {
    let mut sel = Sel::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line == "SEL has no entries" {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        let id = fields.first().copied().unwrap_or("");
        let id_ok = !id.is_empty() && id.len() <= 4 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !(5..=7).contains(&fields.len()) || !id_ok {
            sel.malformed += 1;
            continue;
        }
        let field = |i: usize| fields.get(i).copied().unwrap_or("").to_owned();
        sel.entries.push(SelEntry {
            id: id.to_ascii_lowercase(),
            sensor: field(3),
            event: field(4),
            direction: field(5),
        });
    }
    sel
}
