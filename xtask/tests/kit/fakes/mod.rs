//! Fake `k3d`, `kubectl`, `helm`, `docker` and `skaffold` for the cluster
//! commands' tests: small shell scripts, first (and alone) on PATH, that
//! record their arguments and answer like the real tools. They keep the
//! state a real cluster would (does it exist, is CNPG installed, which pod
//! is the primary) in files, so a re-run sees what the first run did.
//!
//! Control files in the state folder: `fail-TOOL` makes TOOL fail,
//! `hang-TOOL` makes it hang (for timeouts), `no-promotion` keeps the CNPG
//! primary where it is, `db-timeout` makes the database wait time out,
//! `helm-release` says IBDb is installed with Helm, `owner` holds what
//! `kubectl get deployment ibdb` finds (`ibdb/` from k8s/, `ibdb/Helm`).
#![allow(dead_code, reason = "each test file uses a different part")]

use std::path::{Path, PathBuf};

pub const TOOLS: &[&str] = &["k3d", "kubectl", "helm", "docker", "skaffold"];

pub struct Fakes {
    dir: tempfile::TempDir,
}

const COMMON: &str = r#"#!/bin/sh
tool=${0##*/}
echo "$tool $*" >> "$FAKE_STATE/calls.log"
if [ -f "$FAKE_STATE/fail-$tool" ]; then
    echo "$tool: simulated failure" >&2
    exit 1
fi
if [ -f "$FAKE_STATE/hang-$tool" ]; then
    exec /bin/sleep 30
fi
"#;

const K3D: &str = r#"
case "$*" in
    --version|version) echo "k3d version v5.8.3"; echo "k3s version v1.36.5-k3s1 (default)" ;;
    "cluster list --output json")
        if [ -f "$FAKE_STATE/stopped" ]; then
            echo '[{"name":"microservices","serversCount":1,"serversRunning":0,"agentsCount":2,"agentsRunning":0}]'
        elif [ -f "$FAKE_STATE/cluster" ]; then
            echo '[{"name":"microservices","serversCount":1,"serversRunning":1,"agentsCount":2,"agentsRunning":2}]'
        else
            echo '[]'
        fi ;;
    "cluster create --config k3d.yaml"|"cluster create --config k3d.yaml --volume "*)
        if [ -f "$FAKE_STATE/cluster" ]; then echo "FATA[0000] cluster microservices already exists" >&2; exit 1; fi
        : > "$FAKE_STATE/cluster"
        echo "INFO[0020] Cluster 'microservices' created successfully!" ;;
    "cluster start microservices") /bin/rm -f "$FAKE_STATE/stopped"; echo "INFO[0005] Started cluster 'microservices'" ;;
    "image import --mode direct --cluster microservices "*) echo "INFO[0002] Successfully imported image(s)" ;;
    "cluster delete microservices") /bin/rm -f "$FAKE_STATE/cluster" "$FAKE_STATE/cnpg"; echo "INFO[0003] Successfully deleted cluster microservices!" ;;
    *) echo "fake k3d: unexpected arguments: $*" >&2; exit 64 ;;
esac
"#;

const KUBECTL: &str = r#"
SERVE='
import http.server, sys
port, body = int(sys.argv[1]), sys.argv[2].encode()
status = int(sys.argv[3]) if len(sys.argv) > 3 else 200
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
'
case "$*" in
    "version --client"*) echo "Client Version: v1.36.5" ;;
    "cluster-info"*)
        if [ -f "$FAKE_STATE/cluster" ]; then echo "Kubernetes control plane is running at https://0.0.0.0:6550"
        else echo "The connection to the server localhost:8080 was refused" >&2; exit 1; fi ;;
    *" wait --for=condition=Ready nodes --all"*) echo "node/k3d-microservices-server-0 condition met" ;;
    *" wait --for=condition=Established crd/clusters.postgresql.cnpg.io"*) echo "customresourcedefinition.apiextensions.k8s.io/clusters.postgresql.cnpg.io condition met" ;;
    *" wait --for=condition=Ready cluster/ibdb-db"*)
        if [ -f "$FAKE_STATE/db-timeout" ]; then echo "error: timed out waiting for the condition on clusters/ibdb-db" >&2; exit 1; fi
        echo "cluster.postgresql.cnpg.io/ibdb-db condition met" ;;
    *" get nodes"*)
        echo "NAME                         STATUS   ROLES                  AGE   VERSION"
        echo "k3d-microservices-server-0   Ready    control-plane,master   1m    v1.36.5+k3s1" ;;
    *" get deployment cnpg-cloudnative-pg"*)
        if [ -f "$FAKE_STATE/cnpg" ]; then echo "cnpg-cloudnative-pg   1/1     1            1           1m"
        else echo 'Error from server (NotFound): deployments.apps "cnpg-cloudnative-pg" not found' >&2; exit 1; fi ;;
    *" rollout status "*) echo "deployment successfully rolled out" ;;
    *" get secret ibdb-db-app"*) echo "ibdb-db-app   kubernetes.io/basic-auth   9      1m" ;;
    *" get deployment ibdb --ignore-not-found "*)
        if [ -f "$FAKE_STATE/owner" ]; then /bin/cat "$FAKE_STATE/owner"; fi ;;
    *" delete --ignore-not-found --wait=true "*) /bin/rm -f "$FAKE_STATE/owner"; echo "deleted" ;;
    *" get cluster ibdb-db --output json"*)
        primary=ibdb-db-1
        if [ -f "$FAKE_STATE/primary" ]; then primary=$(/bin/cat "$FAKE_STATE/primary"); fi
        echo '{"apiVersion":"postgresql.cnpg.io/v1","kind":"Cluster","metadata":{"name":"ibdb-db","resourceVersion":"4711"},"status":{"currentPrimary":"'"$primary"'","instanceNames":["ibdb-db-1","ibdb-db-2","ibdb-db-3"]}}' ;;
    *" delete pod "*)
        : > "$FAKE_STATE/deleted"
        if [ ! -f "$FAKE_STATE/no-promotion" ]; then printf 'ibdb-db-2' > "$FAKE_STATE/primary"; fi
        echo "pod deleted" ;;
    *" patch cluster ibdb-db --subresource=status --type=merge --patch "*)
        : > "$FAKE_STATE/deleted"
        target=${*#*'"targetPrimary":"'}
        target=${target%%'"'*}
        if [ ! -f "$FAKE_STATE/no-promotion" ]; then printf '%s' "$target" > "$FAKE_STATE/primary"; fi
        echo "cluster.postgresql.cnpg.io/ibdb-db patched" ;;
    # Stage 04's live check, on the current context (no --context).
    "rollout status deployment/health "*) echo 'deployment "health" successfully rolled out' ;;
    "get deployment health --output jsonpath={.status.readyReplicas}")
        if [ -f "$FAKE_STATE/ready" ]; then /bin/cat "$FAKE_STATE/ready"; else printf '3'; fi ;;
    "port-forward svc/health "*)
        # Like the real one: 127.0.0.1:LOCAL answers as the pods do (the
        # body comes from the state file `body`, if there is one).
        port=${3%%:*}
        body='{"status":"OK"}'
        if [ -f "$FAKE_STATE/body" ]; then body=$(/bin/cat "$FAKE_STATE/body"); fi
        echo "Forwarding from 127.0.0.1:$port -> 8000"
        exec /usr/bin/python3 -c "$SERVE" "$port" "$body" ;;
    # Stage 05's live check: the CNPG Cluster books-db, then the service.
    "wait --for=condition=Ready cluster/books-db "*)
        if [ -f "$FAKE_STATE/db-timeout" ]; then echo "error: timed out waiting for the condition on clusters/books-db" >&2; exit 1; fi
        echo "cluster.postgresql.cnpg.io/books-db condition met" ;;
    "get clusters books-db --output jsonpath="*)
        # readyInstances/instances phase, as the jsonpath asks.
        if [ -f "$FAKE_STATE/instances" ]; then /bin/cat "$FAKE_STATE/instances"; else printf '3/3 Cluster in healthy state'; fi ;;
    "rollout status deployment/books "*) echo 'deployment "books" successfully rolled out' ;;
    "port-forward svc/books "*)
        # 127.0.0.1:LOCAL answers /readyz as the pods do: 200, or the
        # status in the state file `readyz`.
        port=${3%%:*}
        status=200
        if [ -f "$FAKE_STATE/readyz" ]; then status=$(/bin/cat "$FAKE_STATE/readyz"); fi
        echo "Forwarding from 127.0.0.1:$port -> 8000"
        exec /usr/bin/python3 -c "$SERVE" "$port" '{"status":"OK"}' "$status" ;;
    *" port-forward "*)
        echo "Forwarding from 127.0.0.1 -> 8000"
        exec /bin/sleep 60 ;;
    *" apply --filename k8s/"*) : > "$FAKE_STATE/namespace"; echo "applied" ;;
    *" apply --filename "* | "apply --filename "*) echo "applied" ;;
    *) echo "fake kubectl: unexpected arguments: $*" >&2; exit 64 ;;
esac
"#;

const HELM: &str = r#"
case "$*" in
    "version --short") echo "v4.3.1+gfake" ;;
    "repo add cnpg "*) echo '"cnpg" has been added to your repositories' ;;
    "pull cloudnative-pg --repo "*) echo "fake chart" > "$8/$2-$6.tgz" ;;
    "upgrade --install cnpg "*) : > "$FAKE_STATE/cnpg"; echo 'Release "cnpg" has been upgraded. Happy Helming!'; echo "STATUS: deployed" ;;
    "upgrade --install ibdb helm/ibdb "*) : > "$FAKE_STATE/helm-release"; printf 'ibdb/Helm' > "$FAKE_STATE/owner"; echo 'Release "ibdb" has been upgraded. Happy Helming!'; echo "STATUS: deployed" ;;
    "status ibdb "*)
        if [ -f "$FAKE_STATE/helm-release" ]; then echo "NAME: ibdb"; echo "STATUS: deployed"
        else echo "Error: release: not found" >&2; exit 1; fi ;;
    "uninstall ibdb "*) /bin/rm -f "$FAKE_STATE/helm-release" "$FAKE_STATE/owner"; echo 'release "ibdb" uninstalled' ;;
    *) echo "fake helm: unexpected arguments: $*" >&2; exit 64 ;;
esac
"#;

const DOCKER: &str = r#"
case "$*" in
    "--version") echo "Docker version 28.0.0, build fake" ;;
    "version --format {{.Server.Arch}}") echo "amd64" ;;
    "version --format"*) echo "28.0.0" ;;
    # The images Docker has: one name a line in the state file `images`.
    "image inspect --format {{.Id}} "*)
        if [ -f "$FAKE_STATE/images" ] && /usr/bin/grep -qxF "$5" "$FAKE_STATE/images"; then echo "sha256:fake-$5"
        else echo "Error response from daemon: No such image: $5" >&2; exit 1; fi ;;
    "pull "*) echo "$2" >> "$FAKE_STATE/images"; echo "Status: Downloaded newer image for $2" ;;
    "save --output "*)
        if ! [ -f "$FAKE_STATE/images" ] || ! /usr/bin/grep -qxF "$4" "$FAKE_STATE/images"; then
            echo "Error response from daemon: reference does not exist" >&2; exit 1
        fi
        echo "$4" > "$3" ;;
    "load --input "*) /bin/cat "$3" >> "$FAKE_STATE/images"; echo "Loaded image: $(/bin/cat "$3")" ;;
    "build --file "*" --iidfile "*)
        # Like BuildKit: the image id goes to the --iidfile.
        printf 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' > "$5"
        echo "writing image sha256:0123456789ab done" ;;
    "build "*) echo "naming to ${3:-image} done" ;;
    "tag "*) ;;
    "push "*)
        if [ -f "$FAKE_STATE/no-registry" ]; then
            echo "Get \"http://localhost:5005/v2/\": dial tcp 127.0.0.1:5005: connect: connection refused" >&2
            exit 1
        fi
        echo "${2##*:}: digest: sha256:fake size: 1234" ;;
    *) echo "fake docker: unexpected arguments: $*" >&2; exit 64 ;;
esac
"#;

const CURL: &str = r#"
case "$*" in
    "--fail --location --silent --show-error --output "*) echo "fake archive from $7" > "$6" ;;
    *) echo "fake curl: unexpected arguments: $*" >&2; exit 64 ;;
esac
"#;

/// Not on PATH by default (`Fakes::with`); the xtask finds cargo through
/// `CARGO` (`Fakes::xtask_with`).
const CARGO: &str = r#"
case "$*" in
    "fetch --locked --manifest-path "*) echo "fetched $4" ;;
    *) echo "fake cargo: unexpected arguments: $*" >&2; exit 64 ;;
esac
"#;

const SKAFFOLD: &str = r#"
# Stage 08's live check: `skaffold run --port-forward=user` builds, deploys,
# prints the forward as pkg/skaffold/kubernetes/portforward/entry_manager.go
# does, and stays in the foreground (pkg/skaffold/runner/deploy.go) while
# 127.0.0.1:PORT answers as IBDb would (`not-ready`: /readyz answers 503).
SERVE='
import http.server, os, sys
port, state = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = 200, b"{\"status\":\"OK\"}"
        if self.path == "/readyz" and os.path.exists(state + "/not-ready"):
            status, body = 503, b"{\"status\":\"UNAVAILABLE\"}"
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
'
case "$*" in
    version) echo "v2.16.1" ;;
    "run --port-forward=user --tail=false")
        echo "Generating tags..."
        echo " - localhost:5005/ibdb -> localhost:5005/ibdb:abc1234"
        echo "Deployments stabilized in 3.2 seconds"
        : > "$FAKE_STATE/release"
        if [ -f "$FAKE_STATE/no-forward" ]; then echo "Press Ctrl+C to exit"; exec /bin/sleep 30; fi
        port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        echo "Port forwarding service/ibdb in namespace default, remote port 8000 -> http://127.0.0.1:$port"
        echo "Press Ctrl+C to exit"
        exec /usr/bin/python3 -c "$SERVE" "$port" "$FAKE_STATE" ;;
    delete) /bin/rm -f "$FAKE_STATE/release"; echo "Cleaning up..."; echo ' - release "ibdb" uninstalled' ;;
    *) echo "skaffold $*" ;;
esac
"#;

impl Fakes {
    /// Every fake tool.
    pub fn new() -> Fakes {
        Fakes::with(TOOLS)
    }

    /// Only these fake tools (the others are missing).
    pub fn with(tools: &[&str]) -> Fakes {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::tempdir_in(base).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        std::fs::write(dir.path().join("state/calls.log"), "").unwrap();
        let fakes = Fakes { dir };
        for tool in tools {
            let body = match *tool {
                "k3d" => K3D,
                "kubectl" => KUBECTL,
                "helm" => HELM,
                "docker" => DOCKER,
                "skaffold" => SKAFFOLD,
                "curl" => CURL,
                "cargo" => CARGO,
                other => panic!("no fake {other}"),
            };
            let path = fakes.bin().join(tool);
            std::fs::write(&path, format!("{COMMON}{body}")).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        fakes
    }

    pub fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Creates a control or state file (`cluster`, `fail-k3d`, `hang-kubectl`, ...).
    pub fn set(&self, name: &str, content: &str) {
        std::fs::write(self.state().join(name), content).unwrap();
    }

    pub fn has(&self, name: &str) -> bool {
        self.state().join(name).exists()
    }

    /// Every call so far, one line each: `tool arg arg ...`.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state().join("calls.log"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn clear_calls(&self) {
        std::fs::write(self.state().join("calls.log"), "").unwrap();
    }

    /// The offline cache the xtask sees (`LAB_OFFLINE_CACHE`): one of the
    /// fakes' own, empty at first, so the kit's target/offline plays no part.
    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("offline")
    }

    /// Runs `cargo xtask ARGS` with only the fakes on PATH.
    pub fn xtask(&self, args: &[&str]) -> crate::support::Run {
        self.xtask_with(args, &[])
    }

    /// Like `xtask`, with more environment variables.
    pub fn xtask_with(&self, args: &[&str], env: &[(&str, &str)]) -> crate::support::Run {
        let path = self.bin();
        let state = self.state();
        let cache = self.cache();
        let mut all = vec![
            ("PATH", path.to_str().unwrap()),
            ("FAKE_STATE", state.to_str().unwrap()),
            ("LAB_OFFLINE_CACHE", cache.to_str().unwrap()),
        ];
        all.extend_from_slice(env);
        crate::support::xtask_with_env(args, &all)
    }
}
