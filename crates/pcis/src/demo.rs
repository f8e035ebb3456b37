//! `pcis demo`: a ready-to-use deployment in a folder — SQLite database, key file, a
//! realistic institution tree and one user per role with fresh one-time passwords, written
//! to `DIR/demo-logins.txt` as `role username password` lines. Running it again reuses the
//! database and issues new one-time passwords.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use pcis_domain::customer::TierThresholds;
use pcis_domain::user::UserInput;
use pcis_service::bootstrap::{SeedCustomer, SeedInstitution};
use time::OffsetDateTime;

use crate::config::{KeyFile, Settings, write_private};
use crate::synth::{Outlet, Synth};

/// How many customers the demo creates.
const DEMO_CUSTOMERS: usize = 2_000;

pub async fn run(
    dir: &Path,
    listen: &str,
    database: Option<String>,
    config: Option<&Path>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key_file = dir.join("keys.json");
    if !key_file.exists() {
        write_private(&key_file, &serde_json::to_string_pretty(&KeyFile::generate())?)?;
    }
    let database = database.unwrap_or_else(|| format!("sqlite:{}", dir.join("pcis.db").display()));
    let mut settings = Settings::load(config, Some(database), Some(key_file))?;
    settings.secure_cookies = false;
    let app = crate::open(&settings).await?;
    app.seed_institutions(&tree()).await?;
    let mut logins = Vec::new();
    for (role, username, name, staff_no, inst) in USERS {
        let input = UserInput {
            username: username.into(),
            display_name: name.into(),
            staff_no: staff_no.into(),
            institution_code: inst.into(),
            roles: vec![role.to_string()],
        };
        let password =
            app.provision_user(&input).await.with_context(|| format!("cannot provision {username}"))?;
        logins.push(format!("{role} {username} {password}"));
    }
    let added =
        app.seed_customers(&customers(DEMO_CUSTOMERS)).await.context("cannot create demo customers")?;
    if added > 0 {
        tracing::info!(customers = added, "demo customers created");
    }
    app.build_suspect_list().await.context("cannot build the suspicious list")?;
    demo_proposals(&app).await.context("cannot create demo change proposals")?;
    let logins_file = dir.join("demo-logins.txt");
    write_private(&logins_file, &(logins.join("\n") + "\n"))?;
    let listen = listen.to_owned();
    let web = pcis_web::WebConfig { secure_cookies: false, trusted_proxies: Vec::new(), metrics_token: None };
    crate::serve(app, &listen, web, None, |addr| {
        // Write errors are ignored: a closed stdout (a script that read the URL and went
        // away) must not take the server down.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "PCIS demo — 个人客户信息系统");
        let _ = writeln!(out, "URL: http://{addr}/");
        let _ = writeln!(
            out,
            "Logins (one-time passwords, to be changed at first login; also in {}):",
            logins_file.display()
        );
        let _ = writeln!(out, "  {:<18} {:<12} password", "role", "username");
        for l in &logins {
            let parts: Vec<&str> = l.split(' ').collect();
            let _ = writeln!(out, "  {:<18} {:<12} {}", parts[0], parts[1], parts[2]);
        }
        let _ = out.flush();
    })
    .await
}

/// Change proposals (变更申请) so that each step of the maker-checker chain has work on
/// somebody's desk: two changes and an addition waiting for the outlet's supervisor (one of
/// them made a week ago and overdue), one the supervisor approved and one its proposer
/// withdrew. Only on a database without any.
async fn demo_proposals(app: &pcis_service::App) -> anyhow::Result<()> {
    use pcis_domain::customer::CustomerInput;
    if pcis_store::proposals::any(&mut app.db.begin_read().await?).await? {
        return Ok(());
    }
    let actor = |username: &'static str| async move {
        let mut tx = app.db.begin_read().await?;
        let info = pcis_store::users::login_info_by_name(&mut tx, username).await?.context("a demo user")?;
        let actor = pcis_store::users::load_actor(&mut tx, pcis_domain::user::UserId(info.id)).await?;
        anyhow::Ok(actor.context("a demo user")?.0)
    };
    let meta = pcis_service::RequestMeta::default();
    let (manager, entry, supervisor) =
        (actor("manager").await?, actor("entry").await?, actor("supervisor").await?);
    let mine = app
        .search_customers(&manager, &meta, &Default::default(), &pcis_service::CustomerSort::USUAL)
        .await?
        .items;
    let change = |occupation: &str, mobile: &str| CustomerInput {
        occupation: occupation.into(),
        mobile: mobile.into(),
        ..Default::default()
    };
    let wanted = [
        change("教师", "13951000001"),
        change("个体工商户", ""),
        change("医生", "13951000003"),
        change("退休", ""),
    ];
    // The first change was proposed a week ago and nobody reviewed it.
    let last_week = pcis_service::ManualClock::default();
    last_week.advance(time::Duration::days(-7));
    let past = pcis_service::App { clock: std::sync::Arc::new(last_week), ..app.clone() };
    let mut ids = Vec::new();
    let mut customers = mine.iter();
    for input in &wanted {
        let maker = if ids.is_empty() { &past } else { app };
        // A customer who already holds these values would be no change: take the next.
        for customer in customers.by_ref() {
            match maker.propose_customer_change(&manager, &meta, customer.id, Some(input)).await {
                Ok(id) => {
                    ids.push(id);
                    break;
                }
                Err(pcis_domain::DomainError::Invalid(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    let newcomer = CustomerInput {
        name: "周婷".into(),
        gender: "female".into(),
        birth_date: "1990-03-08".into(),
        id_type: "resident_id".into(),
        id_number: "320102199003080020".into(),
        mobile: "13851000008".into(),
        address: "南京市玄武区中山路18号".into(),
        occupation: "会计".into(),
        ..Default::default()
    };
    app.propose_new_customer(&entry, &meta, &newcomer).await?;
    if let [.., approved, withdrawn] = ids[..] {
        app.decide_proposal(&supervisor, &meta, approved, true, "已电话核实").await?;
        app.withdraw_proposal(&manager, &meta, withdrawn, "客户暂不变更").await?;
    }
    app.escalate_overdue_proposals().await?;
    Ok(())
}

/// (role, username, name, staff number, institution code)
const USERS: [(&str, &str, &str, &str, &str); 14] = [
    ("sys_admin", "sysadmin", "周明", "E0001", "000000"),
    ("security_auditor", "auditor", "吴静", "E0002", "000000"),
    ("biz_admin", "bizadmin", "郑强", "E0003", "320000"),
    ("bank_leader", "leader", "王志刚", "E0004", "320100"),
    ("dept_head", "depthead", "李红", "E0005", "320100"),
    ("dept_staff", "deptstaff", "张伟", "E0006", "320100"),
    ("am_supervisor", "supervisor", "刘洋", "E0007", "3201000101"),
    ("account_manager", "manager", "陈晨", "E0008", "3201000101"),
    ("account_manager", "manager2", "林婉", "E0014", "3201000101"),
    ("vip_head", "viphead", "杨帆", "E0009", "320100"),
    ("vip_specialist", "vipspec", "赵敏", "E0010", "320100"),
    ("credit_reviewer", "credit", "孙磊", "E0011", "320000"),
    ("data_entry", "entry", "黄丽", "E0012", "3201000101"),
    ("report_viewer", "reports", "徐涛", "E0013", "32010001"),
];

type City = (&'static str, &'static str, &'static [&'static str]);

/// Province branches, their city branches and each city's districts (one sub-branch each).
const PROVINCES: [(&str, &str, [City; 3]); 2] = [
    (
        "320000",
        "江苏省分行",
        [
            ("320100", "南京", &["玄武", "秦淮", "鼓楼", "建邺"]),
            ("320500", "苏州", &["姑苏", "工业园区", "吴中"]),
            ("320200", "无锡", &["梁溪", "滨湖", "新吴"]),
        ],
    ),
    (
        "330000",
        "浙江省分行",
        [
            ("330100", "杭州", &["上城", "西湖", "滨江", "余杭"]),
            ("330200", "宁波", &["海曙", "鄞州", "北仑"]),
            ("330300", "温州", &["鹿城", "瓯海", "龙湾"]),
        ],
    ),
];

/// Every outlet of the demo tree, with what the customer generator needs to know of it.
pub(crate) fn outlets() -> Vec<Outlet> {
    let mut out = Vec::new();
    for (_, pname, cities) in PROVINCES {
        let province = if pname.starts_with("江苏") { "江苏省" } else { "浙江省" };
        for (ccode, cname, districts) in cities {
            for (d, district) in districts.iter().enumerate() {
                for o in 0..3 {
                    out.push(Outlet {
                        code: format!("{ccode}{:02}{:02}", d + 1, o + 1),
                        province,
                        city: cname,
                        district: district.trim_end_matches('区').to_string(),
                        region: format!("{}{:02}", &ccode[..4], d + 2),
                    });
                }
            }
        }
    }
    out
}

/// The demo outlet's account managers: (username, staff number).
pub(crate) const DEMO_MANAGERS: [(&str, &str); 2] = [("manager", "E0008"), ("manager2", "E0014")];

/// Where the `n`th generated customer lives and who manages it: a quarter at the demo
/// supervisor's outlet, split between its two account managers; the rest over all outlets.
pub(crate) fn placement(n: u64, outlets: &[Outlet]) -> (&Outlet, Option<(&'static str, &'static str)>) {
    let i = n as usize;
    if i.is_multiple_of(4) {
        (&outlets[0], Some(DEMO_MANAGERS[usize::from(!i.is_multiple_of(8))]))
    } else {
        (&outlets[i % outlets.len()], None)
    }
}

/// Whether the `n`th generated customer is a VIP (通达) member: most Nanjing customers that
/// meet the standard, served by the demo specialist.
pub(crate) fn is_vip(n: u64, outlet: &Outlet, c: &SeedCustomer) -> bool {
    let aum: i64 = c.accounts.iter().filter(|a| a.product_type != "loan").map(|a| a.balance).sum();
    outlet.code.starts_with("3201") && aum >= TierThresholds::default().vip && !n.is_multiple_of(5)
}

/// Customers for the demo: `n` spread over all outlets as [`placement`] says, VIP members in
/// Nanjing served by the demo specialist, a few sharing a mobile.
fn customers(n: usize) -> Vec<SeedCustomer> {
    let outlets = outlets();
    let today = OffsetDateTime::now_utc().date();
    let mut synth = Synth::new(20261124, today);
    let mut mobiles: Vec<String> = Vec::with_capacity(n);
    (0..n as u64)
        .map(|i| {
            let (outlet, manager) = placement(i, &outlets);
            let mut c = synth.customer(i, format!("{:010}", 6_200_000_000u64 + i), outlet);
            // A few customers of the demo outlet give a mobile already on file (a family, or
            // a slip at the counter), so the suspicious list (R-ETL-4) has items to work: one
            // of another outlet's customer, one of a neighbour's at the same outlet.
            let copied = match i % 40 {
                4 => Some(i - 1),
                12 => Some(i - 4),
                _ => None,
            };
            if let Some(from) = copied {
                c.input.mobile = mobiles[from as usize].clone();
            }
            mobiles.push(c.input.mobile.clone());
            c.manager = manager.map(|(username, _)| username.to_owned());
            if is_vip(i, outlet, &c) {
                c.vip_member = true;
                c.specialist = Some("vipspec".to_owned());
            }
            c
        })
        .collect()
}

/// 1 head office, 2 province branches, 6 city branches, 20 sub-branches, 60 outlets.
pub(crate) fn tree() -> Vec<SeedInstitution> {
    let node = |code: String, name: String, parent: Option<String>, kind: &'static str| SeedInstitution {
        code,
        name,
        parent_code: parent,
        kind,
    };
    let mut out = vec![node("000000".into(), "总行".into(), None, "management")];
    let streets = [
        "中山路",
        "人民路",
        "解放路",
        "建设路",
        "和平路",
        "文化路",
        "新华路",
        "长江路",
        "青年路",
        "学府路",
        "湖滨路",
        "东风路",
    ];
    let mut n = 0;
    for (pcode, pname, cities) in PROVINCES {
        out.push(node(pcode.into(), pname.into(), Some("000000".into()), "management"));
        for (ccode, cname, districts) in cities {
            out.push(node(ccode.into(), format!("{cname}分行"), Some(pcode.into()), "management"));
            for (d, district) in districts.iter().enumerate() {
                let scode = format!("{ccode}{:02}", d + 1);
                out.push(node(
                    scode.clone(),
                    format!("{cname}{district}支行"),
                    Some(ccode.into()),
                    "management",
                ));
                for o in 0..3 {
                    n += 1;
                    let street = streets[n % streets.len()];
                    let (name, kind) = if n % 5 == 0 {
                        (format!("{district}{street}代理网点"), "agency")
                    } else {
                        (format!("{district}{street}网点"), "self_run")
                    };
                    out.push(node(format!("{scode}{:02}", o + 1), name, Some(scode.clone()), kind));
                }
            }
        }
    }
    out
}

/// The level (1 head office … 5 outlet) of each institution of [`tree`], in its order.
pub(crate) fn levels() -> Vec<u8> {
    let tree = tree();
    let mut level: std::collections::HashMap<&str, u8> = std::collections::HashMap::new();
    tree.iter()
        .map(|i| {
            let l = i.parent_code.as_deref().and_then(|p| level.get(p)).map_or(1, |p| p + 1);
            level.insert(&i.code, l);
            l
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_tree_has_the_promised_shape() {
        let t = super::tree();
        let count = |len: usize| t.iter().filter(|i| i.code.len() == len).count();
        assert_eq!(t.len(), 1 + 2 + 6 + 20 + 60);
        assert_eq!(count(8), 20);
        assert_eq!(count(10), 60);
        let codes: std::collections::HashSet<_> = t.iter().map(|i| &i.code).collect();
        assert_eq!(codes.len(), t.len());
        let outlet_codes: Vec<_> = super::outlets().into_iter().map(|o| o.code).collect();
        assert_eq!(outlet_codes.len(), 60);
        assert!(outlet_codes.iter().all(|c| codes.contains(c)));
    }
}
