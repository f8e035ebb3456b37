//! `pcis gen` (R-ETL-5): a day's core-banking extracts in the format of
//! `docs/extract-format.md`, synthetic and deterministic from a seed, of any size. Rows are
//! written as they are made, so memory stays small whatever the size; a share of rows can be
//! made invalid (for the rejects file) and a share of customers can be given another
//! customer's mobile, fixed-line number or settlement account (for the suspicious list).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use pcis_service::bootstrap::SeedCustomer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, OffsetDateTime};

use crate::demo;
use crate::synth::{Outlet, PRODUCTS, Synth};

/// What to generate.
pub struct GenOptions {
    pub customers: u64,
    pub out: PathBuf,
    pub seed: u64,
    /// Share of rows made invalid, in every file but the institutions and products.
    pub invalid_share: f64,
    /// Share of customers given another customer's contact.
    pub shared_contact_share: f64,
    pub gb18030: bool,
    pub business_date: Date,
}

/// The files in the order they must be loaded, as the manifest lists them.
pub use pcis_service::import::FILES;

pub const CUSTOMER_HEADER: [&str; 24] = [
    "customer_no",
    "name",
    "gender",
    "birth_date",
    "id_type",
    "id_number",
    "id_issuer",
    "id_expiry",
    "nationality",
    "occupation",
    "education",
    "marital_status",
    "mobile",
    "phone",
    "email",
    "address",
    "settlement_account",
    "institution_code",
    "manager_staff_no",
    "risk_level",
    "risk_assessed_on",
    "vip_member",
    "points",
    "marketing_consent_on",
];
pub const ACCOUNT_HEADER: [&str; 9] = [
    "account_no",
    "customer_no",
    "product_code",
    "currency",
    "balance",
    "opened_on",
    "matures_on",
    "status",
    "institution_code",
];
pub const TRANSACTION_HEADER: [&str; 7] =
    ["txn_no", "account_no", "posted_at", "amount", "currency", "channel", "summary"];

/// The bytes of a CSV file on their way to disk: as they are in UTF-8; in GB18030 held until
/// the CSV writer flushes a whole record, then transcoded (so no character is ever split).
struct Encoded {
    out: BufWriter<File>,
    gb18030: bool,
    pending: Vec<u8>,
}

impl Write for Encoded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.gb18030 {
            self.pending.extend_from_slice(buf);
            Ok(buf.len())
        } else {
            self.out.write(buf)
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let text = std::str::from_utf8(&self.pending)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let (encoded, _, _) = encoding_rs::GB18030.encode(text);
            self.out.write_all(&encoded)?;
            self.pending.clear();
        }
        Ok(())
    }
}

/// One CSV file being written, counting its data rows.
struct Sink {
    csv: csv::Writer<Encoded>,
    gb18030: bool,
    rows: u64,
}

impl Sink {
    fn create(dir: &Path, name: &str, header: &[&str], gb18030: bool) -> anyhow::Result<Sink> {
        let path = dir.join(name);
        let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let out = Encoded { out: BufWriter::with_capacity(1 << 20, file), gb18030, pending: Vec::new() };
        let csv = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
        let mut sink = Sink { csv, gb18030, rows: 0 };
        sink.write(header)?;
        sink.rows = 0;
        Ok(sink)
    }

    fn write<S: AsRef<[u8]>>(&mut self, fields: &[S]) -> anyhow::Result<()> {
        self.csv.write_record(fields)?;
        if self.gb18030 {
            self.csv.flush()?;
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<u64> {
        self.csv.flush()?;
        let mut encoded = self.csv.into_inner().map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        encoded.out.flush()?;
        Ok(self.rows)
    }
}

/// Fen as the extract writes money: yuan with two decimals.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.unsigned_abs() / 100, fen.unsigned_abs() % 100)
}

/// The telephone area code of a demo city.
fn area_code(city: &str) -> &'static str {
    match city {
        "南京" => "025",
        "苏州" => "0512",
        "无锡" => "0510",
        "杭州" => "0571",
        "宁波" => "0574",
        _ => "0577",
    }
}

/// Contacts of recent customers that a planted duplicate may copy.
struct Contacts {
    mobile: String,
    phone: String,
    settlement: String,
}

/// Writes the extracts into `o.out`; `progress(customers written)` every 1,000 customers.
/// Returns the rows written per file.
pub fn generate(o: &GenOptions, mut progress: impl FnMut(u64)) -> anyhow::Result<Vec<(&'static str, u64)>> {
    std::fs::create_dir_all(&o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    let mut counts = Vec::new();

    let mut inst = Sink::create(
        &o.out,
        FILES[0],
        &["code", "name", "level", "parent_code", "kind", "effective_from"],
        o.gb18030,
    )?;
    for (i, level) in demo::tree().iter().zip(demo::levels()) {
        let parent = i.parent_code.clone().unwrap_or_default();
        inst.write(&[i.code.as_str(), &i.name, &level.to_string(), &parent, i.kind, "2020-01-01"])?;
    }
    counts.push((FILES[0], inst.finish()?));

    let mut products = Sink::create(
        &o.out,
        FILES[1],
        &["product_code", "product_type", "product_name", "currency", "risk_level"],
        o.gb18030,
    )?;
    for (code, kind, name, currency, risk) in PRODUCTS {
        products.write(&[code, kind, name, currency, risk])?;
    }
    counts.push((FILES[1], products.finish()?));

    let mut customers = Sink::create(&o.out, FILES[2], &CUSTOMER_HEADER, o.gb18030)?;
    let mut accounts = Sink::create(&o.out, FILES[3], &ACCOUNT_HEADER, o.gb18030)?;
    let mut transactions = Sink::create(&o.out, FILES[4], &TRANSACTION_HEADER, o.gb18030)?;
    let outlets = demo::outlets();
    let mut synth = Synth::new(o.seed, o.business_date);
    // Choices about shares and corruption come from their own stream, so the customers
    // themselves are the same whatever the shares.
    let mut dice = StdRng::seed_from_u64(o.seed ^ 0x005e_ed0f_da7a);
    let mut recent: VecDeque<Contacts> = VecDeque::with_capacity(256);
    let date_digits = o.business_date.to_string().replace('-', "");
    let mut txn_seq = 0u64;
    for n in 0..o.customers {
        let (outlet, manager) = demo::placement(n, &outlets);
        let mut c = synth.customer(n, format!("{:010}", 6_200_000_000u64 + n), outlet);
        c.vip_member = demo::is_vip(n, outlet, &c);
        let mut row =
            customer_row(&mut synth, &mut dice, n, &c, outlet, manager.map(|(_, staff_no)| staff_no));
        if dice.gen_bool(o.shared_contact_share.clamp(0.0, 1.0))
            && let Some(donor) = (!recent.is_empty()).then(|| &recent[dice.gen_range(0..recent.len())])
        {
            match dice.gen_range(0..4) {
                0 if !donor.phone.is_empty() => row[13] = donor.phone.clone(),
                1 if !donor.settlement.is_empty() => row[16] = donor.settlement.clone(),
                _ => row[12] = donor.mobile.clone(),
            }
        }
        if dice.gen_bool(o.invalid_share.clamp(0.0, 1.0)) {
            corrupt_customer(&mut dice, &mut row);
        } else {
            if recent.len() == 256 {
                recent.pop_front();
            }
            recent.push_back(Contacts {
                mobile: row[12].clone(),
                phone: row[13].clone(),
                settlement: row[16].clone(),
            });
        }
        customers.write(&row)?;
        for a in &c.accounts {
            let mut row = vec![
                a.number.clone(),
                c.customer_no.clone(),
                a.product_code.clone(),
                "CNY".to_owned(),
                yuan(a.balance),
                a.opened_on.clone(),
                a.matures_on.clone().unwrap_or_default(),
                "active".to_owned(),
                outlet.code.clone(),
            ];
            if dice.gen_bool(o.invalid_share.clamp(0.0, 1.0)) {
                match dice.gen_range(0..3) {
                    0 => row[4] = "12,3a".into(),
                    1 => row[1] = "9999999999".into(),
                    _ => row[5] = "2026-02-30".into(),
                }
            }
            accounts.write(&row)?;
        }
        for t in &c.transactions {
            txn_seq += 1;
            let at = t.at.to_offset(pcis_domain::CST);
            let mut row = vec![
                format!("{date_digits}{txn_seq:010}"),
                c.accounts[t.account].number.clone(),
                format!("{} {:02}:{:02}:{:02}", at.date(), at.hour(), at.minute(), at.second()),
                yuan(t.amount),
                "CNY".to_owned(),
                t.channel.to_owned(),
                t.summary.clone(),
            ];
            if dice.gen_bool(o.invalid_share.clamp(0.0, 1.0)) {
                match dice.gen_range(0..3) {
                    0 => row[3] = "1.234".into(),
                    1 => row[5] = "fax".into(),
                    _ => row[2] = "2026-13-01 10:00:00".into(),
                }
            }
            transactions.write(&row)?;
        }
        if (n + 1) % 1000 == 0 {
            progress(n + 1);
        }
    }
    progress(o.customers);
    counts.push((FILES[2], customers.finish()?));
    counts.push((FILES[3], accounts.finish()?));
    counts.push((FILES[4], transactions.finish()?));

    let mut manifest =
        Sink::create(&o.out, "manifest.csv", &["business_date", "file", "rows", "encoding"], false)?;
    let encoding = if o.gb18030 { "GB18030" } else { "UTF-8" };
    for (file, rows) in &counts {
        manifest.write(&[o.business_date.to_string().as_str(), file, &rows.to_string(), encoding])?;
    }
    manifest.finish()?;
    Ok(counts)
}

/// The customer's extract row, in the order of [`CUSTOMER_HEADER`].
fn customer_row(
    synth: &mut Synth,
    dice: &mut StdRng,
    n: u64,
    c: &SeedCustomer,
    outlet: &Outlet,
    manager: Option<&str>,
) -> Vec<String> {
    let i = &c.input;
    let phone = if dice.gen_bool(0.3) { Synth::phone(n, area_code(outlet.city)) } else { String::new() };
    let settlement = if dice.gen_bool(0.4) { synth.card_number("621700") } else { String::new() };
    let email = if dice.gen_bool(0.2) { format!("c{n}@example.cn") } else { String::new() };
    vec![
        c.customer_no.clone(),
        i.name.clone(),
        if i.gender == "male" { "1" } else { "2" }.to_owned(),
        i.birth_date.clone(),
        i.id_type.clone(),
        i.id_number.clone(),
        i.id_issuer.clone(),
        i.id_expiry.clone(),
        i.nationality.clone(),
        i.occupation.clone(),
        i.education.clone(),
        i.marital_status.clone(),
        i.mobile.clone(),
        phone,
        email,
        i.address.clone(),
        settlement,
        outlet.code.clone(),
        manager.unwrap_or_default().to_owned(),
        c.risk_level.clone().unwrap_or_default(),
        c.risk_level.as_ref().map(|_| synth_date(n)).unwrap_or_default(),
        if c.vip_member { "1" } else { "0" }.to_owned(),
        (n % 5000).to_string(),
        c.marketing_consent.clone().unwrap_or_default(),
    ]
}

/// A risk assessment date within the last two years, fixed per customer.
fn synth_date(n: u64) -> String {
    let base = Date::from_calendar_date(2025, time::Month::January, 1).expect("valid date");
    (base + time::Duration::days((n * 7 % 700) as i64)).to_string()
}

/// Breaks one field of a customer row, the way real extracts go wrong.
fn corrupt_customer(dice: &mut StdRng, row: &mut [String]) {
    match dice.gen_range(0..5) {
        0 => {
            // A wrong check character.
            let id = &mut row[5];
            let last = if id.ends_with('1') { '2' } else { '1' };
            id.pop();
            id.push(last);
        }
        1 => row[12] = row[12][..10].to_owned(),
        2 => row[3] = "1990-02-30".into(),
        3 => row[1] = String::new(),
        _ => row[17] = "9999999999".into(),
    }
}

/// `pcis gen` on a terminal: a progress bar and the rows written.
pub fn run(o: &GenOptions) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(o.customers).with_style(
        indicatif::ProgressStyle::with_template("generating {bar:40} {pos}/{len} customers ({eta})")
            .expect("valid template"),
    );
    let counts = generate(o, |n| bar.set_position(n))?;
    bar.finish_and_clear();
    for (file, rows) in counts {
        println!("{rows:>12} rows  {}", o.out.join(file).display());
    }
    println!("extracts for {} written in {:.1} s", o.business_date, started.elapsed().as_secs_f64());
    Ok(())
}

/// Yesterday in China: the business date of a T+1 extract.
pub fn yesterday() -> Date {
    OffsetDateTime::now_utc().to_offset(pcis_domain::CST).date().previous_day().expect("a day before")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use pcis_domain::customer::CustomerInput;

    use super::*;

    fn options(dir: &Path, customers: u64) -> GenOptions {
        GenOptions {
            customers,
            out: dir.to_owned(),
            seed: 42,
            invalid_share: 0.0,
            shared_contact_share: 0.0,
            gb18030: false,
            business_date: Date::from_calendar_date(2026, time::Month::November, 23).unwrap(),
        }
    }

    fn rows(dir: &Path, file: &str) -> Vec<csv::StringRecord> {
        csv::Reader::from_path(dir.join(file)).unwrap().records().map(Result::unwrap).collect()
    }

    /// How many values of a customer column are held by more than one customer.
    fn shared(customers: &[csv::StringRecord], column: usize) -> usize {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for r in customers.iter().filter(|r| !r[column].is_empty()) {
            *seen.entry(&r[column]).or_default() += 1;
        }
        seen.values().filter(|n| **n > 1).count()
    }

    #[test]
    fn valid_extracts_pass_the_ui_validation_and_match_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let counts = generate(&options(dir.path(), 600), |_| {}).unwrap();
        let customers = rows(dir.path(), "customers.csv");
        assert_eq!(customers.len(), 600);
        for r in &customers {
            let input = CustomerInput {
                name: r[1].into(),
                gender: if &r[2] == "1" { "male" } else { "female" }.into(),
                birth_date: r[3].into(),
                id_type: r[4].into(),
                id_number: r[5].into(),
                mobile: r[12].into(),
                phone: r[13].into(),
                email: r[14].into(),
                address: r[15].into(),
                ..Default::default()
            };
            input.parse(None).unwrap_or_else(|e| panic!("customer {} invalid: {e:?}", &r[0]));
        }
        let accounts = rows(dir.path(), "accounts.csv");
        let per_customer = accounts.len() as f64 / 600.0;
        assert!((2.2..2.8).contains(&per_customer), "{per_customer} accounts per customer");
        assert!(accounts.iter().all(|a| pcis_domain::identity::luhn_valid(&a[0])));
        let txns = rows(dir.path(), "transactions.csv");
        let per_customer = txns.len() as f64 / 600.0;
        assert!((9.0..11.0).contains(&per_customer), "{per_customer} transactions per customer");
        let manifest = rows(dir.path(), "manifest.csv");
        for ((file, n), m) in counts.iter().zip(&manifest) {
            assert_eq!((&m[1], m[2].parse::<u64>().unwrap()), (*file, *n));
        }
        for column in [5, 12, 13, 16] {
            assert_eq!(shared(&customers, column), 0, "column {column} repeats by chance");
        }
    }

    #[test]
    fn same_seed_same_bytes_and_the_gb18030_twin_reads_the_same() {
        let (a, b, g) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        generate(&options(a.path(), 300), |_| {}).unwrap();
        generate(&options(b.path(), 300), |_| {}).unwrap();
        generate(&GenOptions { gb18030: true, ..options(g.path(), 300) }, |_| {}).unwrap();
        for file in FILES {
            let utf8 = std::fs::read(a.path().join(file)).unwrap();
            assert_eq!(utf8, std::fs::read(b.path().join(file)).unwrap(), "{file} differs between runs");
            let gb = std::fs::read(g.path().join(file)).unwrap();
            // Files with Chinese text really are in GB18030 (the accounts are all ASCII).
            assert_eq!(gb == utf8, utf8.is_ascii(), "{file}");
            let (decoded, _, bad) = encoding_rs::GB18030.decode(&gb);
            assert!(!bad);
            assert_eq!(decoded.as_bytes(), utf8.as_slice(), "{file}");
        }
    }

    /// The sample in the repository is what the documented command writes.
    #[test]
    fn the_repository_sample_is_current() {
        let dir = tempfile::tempdir().unwrap();
        let o = GenOptions {
            seed: 20261124,
            invalid_share: 0.1,
            shared_contact_share: 0.1,
            ..options(dir.path(), 20)
        };
        generate(&o, |_| {}).unwrap();
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/extract-2026-11-23");
        for file in FILES.iter().chain(&["manifest.csv"]) {
            let want = std::fs::read(dir.path().join(file)).unwrap();
            let have = std::fs::read(sample.join(file)).unwrap();
            assert!(
                want == have,
                "samples/extract-2026-11-23/{file} is stale; regenerate it with the command in docs/extract-format.md"
            );
        }
    }

    #[test]
    fn shares_plant_invalid_rows_and_shared_contacts() {
        let dir = tempfile::tempdir().unwrap();
        let o = GenOptions { invalid_share: 0.05, shared_contact_share: 0.1, ..options(dir.path(), 2000) };
        generate(&o, |_| {}).unwrap();
        let customers = rows(dir.path(), "customers.csv");
        let shared_total: usize = [12, 13, 16].iter().map(|c| shared(&customers, *c)).sum();
        assert!((100..300).contains(&shared_total), "{shared_total} shared contacts for a 10% share");
        let invalid = customers
            .iter()
            .filter(|r| {
                r[1].is_empty()
                    || pcis_domain::identity::IdNumber::parse(&r[5]).is_err()
                    || pcis_domain::identity::Mobile::parse(&r[12]).is_err()
                    || r[3].ends_with("02-30")
                    || &r[17] == "9999999999"
            })
            .count();
        assert!((50..150).contains(&invalid), "{invalid} invalid customers for a 5% share");
    }
}
