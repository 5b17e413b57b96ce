//! Checks of the deploy files that need neither a Docker engine nor a Kubernetes cluster:
//! `docker-compose config` on deploy/compose.yaml, and the manifests in deploy/k8s read as
//! YAML and held to what the app needs (probes on its health endpoints, a migration job, a
//! Service that selects the web pods, and the ConfigMap and Secret they read).

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};
use yaml_rust2::{Yaml, YamlLoader};

use crate::cmd;

pub fn check(root: &Path, compose: &Path) -> Result<()> {
    check_compose(root, compose)?;
    check_operations(root)?;
    check_systemd(root)?;
    let dir = root.join("deploy").join("k8s");
    let docs = load_dir(&dir)?;
    let problems = check_k8s(&docs);
    println!(
        "    {} Kubernetes objects in {} checked",
        docs.len(),
        dir.display()
    );
    if problems.is_empty() {
        return Ok(());
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    bail!("{} problem(s) in the Kubernetes manifests", problems.len())
}

/// `docker-compose config` parses the file, interpolates it and checks it against the
/// compose schema, all without an engine. The passwords are placeholders: compose.yaml
/// refuses to run without them.
fn check_compose(root: &Path, compose: &Path) -> Result<()> {
    let file = root.join("deploy").join("compose.yaml");
    let out = cmd::output(
        Command::new(compose)
            .current_dir(root)
            .arg("-f")
            .arg(&file)
            .args(["config", "--services"])
            .env("POSTGRES_PASSWORD", "placeholder-for-config-check")
            .env("SECRET_KEY", "placeholder-for-config-check")
            .env("GRAFANA_ADMIN_PASSWORD", "placeholder-for-config-check")
            .env("REDIS_PASSWORD", "placeholder-for-config-check")
            .env_remove("DOCKER_HOST"),
    )
    .with_context(|| format!("{} does not pass `docker-compose config`", file.display()))?;
    let services: Vec<&str> = out.split_whitespace().collect();
    for wanted in [
        "db",
        "prepare",
        "redis",
        "web",
        "nginx",
        "prometheus",
        "grafana",
    ] {
        if !services.contains(&wanted) {
            bail!(
                "{}: no `{wanted}` service (has: {})",
                file.display(),
                services.join(", ")
            );
        }
    }
    println!(
        "    {}: docker-compose config ok (services: {})",
        file.display(),
        services.join(", ")
    );
    Ok(())
}

/// The operations files read as what they are: Prometheus scrapes `/metrics` on the metrics
/// port compose gives the app, Grafana's provisioning and the Vector example are YAML, the dashboard is JSON with
/// panels. (Whether the dashboard's queries name metrics the app exports is tested against
/// the running app, in the cli crate's tests.)
fn check_operations(root: &Path) -> Result<()> {
    let deploy = root.join("deploy");
    let read = |rel: &str| -> Result<Vec<Yaml>> {
        let path = deploy.join(rel);
        let text = fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        YamlLoader::load_from_str(&text).with_context(|| format!("{}: not YAML", path.display()))
    };
    let prometheus = read("prometheus/prometheus.yml")?;
    let scrapes = prometheus
        .first()
        .map(|d| list(&d["scrape_configs"]))
        .unwrap_or_default();
    let scrapes_app = scrapes.iter().any(|job| {
        text(&job["metrics_path"]) == Some("/metrics")
            && list(&job["dns_sd_configs"])
                .iter()
                .any(|sd| sd["port"].as_i64() == Some(9100))
    });
    if !scrapes_app {
        bail!("deploy/prometheus/prometheus.yml: no job scrapes /metrics on the web replicas' metrics port 9100");
    }
    for rel in [
        "grafana/provisioning/datasources/prometheus.yaml",
        "grafana/provisioning/dashboards/quotes.yaml",
        "vector/vector.yaml",
    ] {
        read(rel)?;
    }
    let path = deploy.join("grafana/quotes.json");
    let dashboard: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(&path).with_context(|| format!("could not read {}", path.display()))?,
    )
    .with_context(|| format!("{}: not JSON", path.display()))?;
    let panels = dashboard["panels"].as_array().map_or(0, Vec::len);
    if panels == 0 {
        bail!("{}: no panels", path.display());
    }
    println!("    prometheus, grafana ({panels} panels) and vector files read");
    Ok(())
}

/// `systemd-analyze verify` on deploy/systemd's units, where it exists: any complaint fails.
/// The units run /usr/bin/quotes, which only the package installs; a copy of the units runs
/// /bin/true instead, so only the units are judged.
fn check_systemd(root: &Path) -> Result<()> {
    let dir = root.join("deploy").join("systemd");
    let units = crate::dist::UNITS;
    let Some(analyze) = cmd::which("systemd-analyze") else {
        println!("    systemd units: systemd-analyze is not installed here; not verified");
        return Ok(());
    };
    let scratch = std::env::temp_dir().join(format!("xtask-systemd-{}", std::process::id()));
    fs::create_dir_all(&scratch)?;
    let result = (|| -> Result<()> {
        let mut args = Vec::new();
        for unit in units {
            let text = fs::read_to_string(dir.join(unit))
                .with_context(|| format!("could not read deploy/systemd/{unit}"))?;
            // A template is verified as one of its instances.
            let name = unit.replace("@.", "@8001.");
            fs::write(
                scratch.join(&name),
                text.replace("/usr/bin/quotes", "/bin/true"),
            )?;
            args.push(scratch.join(name));
        }
        let out = Command::new(&analyze).arg("verify").args(&args).output()?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || !said.trim().is_empty() {
            bail!(
                "systemd-analyze verify found problems in deploy/systemd:\n{}",
                said.trim()
            );
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&scratch);
    result?;
    println!("    systemd units verified: {}", units.join(", "));
    Ok(())
}

/// One object from a manifest, with the file it came from for messages.
pub struct Doc {
    origin: String,
    yaml: Yaml,
}

fn load_dir(dir: &Path) -> Result<Vec<Doc>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("could not read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no manifests in {}", dir.display());
    }
    let mut docs = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file)
            .with_context(|| format!("could not read {}", file.display()))?;
        let origin = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        docs.extend(parse(&origin, &text)?);
    }
    Ok(docs)
}

/// Every non-empty YAML document of one file.
fn parse(origin: &str, text: &str) -> Result<Vec<Doc>> {
    let docs = YamlLoader::load_from_str(text).with_context(|| format!("{origin}: not YAML"))?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.is_null())
        .map(|yaml| Doc {
            origin: origin.to_owned(),
            yaml,
        })
        .collect())
}

fn text(y: &Yaml) -> Option<&str> {
    y.as_str().filter(|s| !s.is_empty())
}

/// A `string: string` mapping such as labels or a selector.
fn labels(y: &Yaml) -> BTreeMap<String, String> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn is_subset(small: &BTreeMap<String, String>, big: &BTreeMap<String, String>) -> bool {
    small.iter().all(|(k, v)| big.get(k) == Some(v))
}

fn list(y: &Yaml) -> &[Yaml] {
    y.as_vec().map_or(&[], Vec::as_slice)
}

/// The containers of a Deployment's or Job's pod template.
fn containers(doc: &Yaml) -> &[Yaml] {
    list(&doc["spec"]["template"]["spec"]["containers"])
}

/// What is wrong with the manifests, one line each; empty when they are fine.
pub fn check_k8s(docs: &[Doc]) -> Vec<String> {
    let mut problems = Vec::new();
    let kind_of = |d: &Doc| text(&d.yaml["kind"]).unwrap_or_default().to_owned();
    let name_of = |d: &Doc| text(&d.yaml["metadata"]["name"]).unwrap_or("?").to_owned();
    for d in docs {
        for (field, value) in [
            ("kind", &d.yaml["kind"]),
            ("apiVersion", &d.yaml["apiVersion"]),
            ("metadata.name", &d.yaml["metadata"]["name"]),
        ] {
            if text(value).is_none() {
                problems.push(format!("{}: an object without {field}", d.origin));
            }
        }
    }
    let of_kind =
        |kind: &str| -> Vec<&Doc> { docs.iter().filter(|d| kind_of(d) == kind).collect() };
    let deployments = of_kind("Deployment");
    let jobs = of_kind("Job");
    let services = of_kind("Service");
    let config_maps: Vec<String> = of_kind("ConfigMap").iter().map(|d| name_of(d)).collect();
    let secrets: Vec<String> = of_kind("Secret").iter().map(|d| name_of(d)).collect();

    if deployments.is_empty() {
        problems.push("no Deployment".into());
    }
    for d in &deployments {
        let at = format!("{}: Deployment {}", d.origin, name_of(d));
        let pod_labels = labels(&d.yaml["spec"]["template"]["metadata"]["labels"]);
        let selector = labels(&d.yaml["spec"]["selector"]["matchLabels"]);
        if selector.is_empty() || !is_subset(&selector, &pod_labels) {
            problems.push(format!(
                "{at}: spec.selector.matchLabels must be non-empty and match the pod template's labels"
            ));
        }
        // The app's own pods answer /readyz and /healthz; any other (the cache) still needs
        // both probes, of whatever kind suits it.
        let is_app =
            |c: &Yaml| text(&c["image"]).is_some_and(|i| i.split(':').next() == Some("quotes"));
        if !containers(&d.yaml).iter().any(is_app) {
            for which in ["readinessProbe", "livenessProbe"] {
                if containers(&d.yaml).iter().any(|c| c[which].is_badvalue()) {
                    problems.push(format!("{at}: a container without a {which}"));
                }
            }
            continue;
        }
        let probe =
            |c: &Yaml, which: &str, path: &str| text(&c[which]["httpGet"]["path"]) == Some(path);
        if !containers(&d.yaml)
            .iter()
            .any(|c| probe(c, "readinessProbe", "/readyz"))
        {
            problems.push(format!(
                "{at}: no container has a readinessProbe on /readyz"
            ));
        }
        if !containers(&d.yaml)
            .iter()
            .any(|c| probe(c, "livenessProbe", "/healthz"))
        {
            problems.push(format!(
                "{at}: no container has a livenessProbe on /healthz"
            ));
        }
    }

    let runs_migrate = |c: &Yaml| {
        let words: Vec<&str> = list(&c["command"])
            .iter()
            .chain(list(&c["args"]))
            .filter_map(Yaml::as_str)
            .collect();
        words.join(" ").contains("quotes migrate")
    };
    if !jobs
        .iter()
        .any(|j| containers(&j.yaml).iter().any(runs_migrate))
    {
        problems.push("no Job runs `quotes migrate`".into());
    }

    if services.is_empty() {
        problems.push("no Service".into());
    }
    for s in &services {
        let at = format!("{}: Service {}", s.origin, name_of(s));
        let selector = labels(&s.yaml["spec"]["selector"]);
        let selected: Vec<&&Doc> = deployments
            .iter()
            .filter(|d| {
                !selector.is_empty()
                    && is_subset(
                        &selector,
                        &labels(&d.yaml["spec"]["template"]["metadata"]["labels"]),
                    )
            })
            .collect();
        let Some(deployment) = selected.first() else {
            problems.push(format!("{at}: its selector matches no Deployment's pods"));
            continue;
        };
        let port_names: Vec<&str> = containers(&deployment.yaml)
            .iter()
            .flat_map(|c| list(&c["ports"]))
            .filter_map(|p| text(&p["name"]))
            .collect();
        for port in list(&s.yaml["spec"]["ports"]) {
            if let Some(name) = text(&port["targetPort"]) {
                if !port_names.contains(&name) {
                    problems.push(format!(
                        "{at}: targetPort `{name}` is no container port of Deployment {}",
                        name_of(deployment)
                    ));
                }
            }
        }
    }

    for d in deployments.iter().chain(&jobs) {
        for c in containers(&d.yaml) {
            // What the container reads: whole (envFrom) or a key at a time (env).
            let whole = list(&c["envFrom"])
                .iter()
                .map(|from| (&from["configMapRef"]["name"], &from["secretRef"]["name"]));
            let keys = list(&c["env"]).iter().map(|var| {
                let from = &var["valueFrom"];
                (
                    &from["configMapKeyRef"]["name"],
                    &from["secretKeyRef"]["name"],
                )
            });
            for (config_map, secret) in whole.chain(keys) {
                for (kind, name, known) in [
                    ("ConfigMap", config_map, &config_maps),
                    ("Secret", secret, &secrets),
                ] {
                    if let Some(name) = text(name) {
                        if !known.iter().any(|k| k == name) {
                            problems.push(format!(
                                "{}: {} {} reads {kind} {name}, which no manifest defines",
                                d.origin,
                                kind_of(d),
                                name_of(d)
                            ));
                        }
                    }
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {PORT: "8000"}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {DATABASE_URL: "postgres://x"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: q}}
  template:
    metadata: {labels: {app: q, tier: web}}
    spec:
      containers:
        - name: web
          ports: [{name: http, containerPort: 8000}]
          image: quotes:latest
          envFrom: [{configMapRef: {name: cfg}}, {secretRef: {name: db}}]
          env: [{name: PASS, valueFrom: {secretKeyRef: {name: cache, key: PASS}}}]
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          livenessProbe: {httpGet: {path: /healthz, port: http}}
---
apiVersion: v1
kind: Secret
metadata: {name: cache}
stringData: {PASS: "x"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache}
spec:
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers:
        - name: redis
          image: redis:7
          ports: [{name: redis, containerPort: 6379}]
          env: [{name: PASS, valueFrom: {secretKeyRef: {name: cache, key: PASS}}}]
          readinessProbe: {exec: {command: [redis-cli, ping]}}
          livenessProbe: {exec: {command: [redis-cli, ping]}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      containers:
        - name: m
          command: ["sh", "-c", "quotes migrate && quotes load-quotes f"]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: q}
  ports: [{port: 80, targetPort: http}]
"#;

    fn problems(text: &str) -> Vec<String> {
        check_k8s(&parse("test.yaml", text).unwrap())
    }

    fn broken(from: &str, to: &str) -> Vec<String> {
        assert!(GOOD.contains(from), "{from}");
        problems(&GOOD.replacen(from, to, 1))
    }

    #[test]
    fn good_manifests_pass() {
        assert_eq!(problems(GOOD), Vec::<String>::new());
    }

    #[test]
    fn each_rule_names_what_is_wrong() {
        let check = |from: &str, to: &str, expected: &str| {
            let found = broken(from, to);
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "replacing {from:?} by {to:?}: expected {expected:?} in {found:?}"
            );
        };
        check(
            "metadata: {name: migrate}",
            "metadata: {}",
            "an object without metadata.name",
        );
        check("kind: ConfigMap\n", "", "an object without kind");
        check(
            "path: /readyz",
            "path: /healthz",
            "readinessProbe on /readyz",
        );
        check(
            "livenessProbe: {httpGet: {path: /healthz",
            "livenessProbe: {httpGet: {path: /",
            "livenessProbe on /healthz",
        );
        check(
            "quotes migrate &&",
            "quotes serve &&",
            "no Job runs `quotes migrate`",
        );
        check(
            "selector: {app: q}",
            "selector: {app: other}",
            "matches no Deployment's pods",
        );
        check("targetPort: http", "targetPort: web", "targetPort `web`");
        check(
            "matchLabels: {app: q}",
            "matchLabels: {app: x}",
            "matchLabels must be non-empty",
        );
        check(
            "secretRef: {name: db}",
            "secretRef: {name: nope}",
            "reads Secret nope",
        );
        check(
            "secretKeyRef: {name: cache, key: PASS}}}]\n          readinessProbe: {httpGet",
            "secretKeyRef: {name: gone, key: PASS}}}]\n          readinessProbe: {httpGet",
            "reads Secret gone",
        );
        // A Deployment of another image (the cache) needs probes, of any kind.
        check(
            "readinessProbe: {exec: {command: [redis-cli, ping]}}",
            "",
            "Deployment cache: a container without a readinessProbe",
        );
        check(
            "livenessProbe: {exec: {command: [redis-cli, ping]}}",
            "",
            "Deployment cache: a container without a livenessProbe",
        );
    }

    #[test]
    fn the_project_manifests_pass() {
        let dir = crate::project_root().join("deploy").join("k8s");
        let docs = load_dir(&dir).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(check_k8s(&docs), Vec::<String>::new());
    }
}
