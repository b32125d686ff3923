//! Stage 04's static check refuses what the API server refuses: each test
//! breaks a copy of the solution the way a trainee might, and expects the
//! failed checks, the file and line, the message and a hint. Each upstream
//! rule names the upstream file it follows (in a comment and in the assert
//! message), so a change upstream can be traced to the test.

use crate::support;

use support::{StageCopy, verify};

/// One broken copy of the solution and what the check must say about it.
struct Case<'a> {
    /// (file, from, to) replacements, applied in order.
    edits: &'a [(&'a str, &'a str, &'a str)],
    /// Exactly these checks fail.
    failed: &'a [&'a str],
    /// The file and a text on the line the first message must point at (in the broken copy).
    at: (&'a str, &'a str),
    /// Text of that message (after `file:line: `).
    message: &'a str,
    /// Text of the check's hint.
    hint: &'a str,
    /// The upstream file (or the kit's own rule) the expectation comes from.
    source: &'a str,
}

fn check(case: Case) {
    let copy = StageCopy::new("solutions/04-kubernetes");
    for (file, from, to) in case.edits {
        copy.replace(file, from, to);
    }
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success, "the broken copy passed ({})", case.source);
    let checks = run.checks();
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(failed, case.failed, "{}: {checks:#?}", case.source);
    let (file, needle) = case.at;
    let text = std::fs::read_to_string(copy.path.join(file)).unwrap();
    // The first line outside a comment: a solution keeps its starter's lines
    // as `# ANCHOR: starter|` comments.
    let line = text
        .lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the broken {file}"))
        + 1;
    let first = checks
        .iter()
        .find(|c| c["check"] == case.failed[0])
        .unwrap();
    let seen = first["seen"].as_str().unwrap();
    let expected = format!("{file}:{line}: {}", case.message);
    assert!(
        seen.contains(&expected),
        "{}: expected {expected:?} in:\n{seen}",
        case.source
    );
    let hint = first["hint"].as_str().unwrap_or("");
    assert!(
        hint.contains(case.hint),
        "{}: expected the hint {:?} in {hint:?}",
        case.source,
        case.hint
    );
}

const CONFIGMAP: &str = "k8s/configmap.yaml";
const DEPLOYMENT: &str = "k8s/deployment.yaml";
const SERVICE: &str = "k8s/service.yaml";

// ---- Scalars typed as kubectl types them ----------------------------------

#[test]
fn an_unquoted_port_in_the_configmap_fails_as_the_api_server_would() {
    // kubernetes-sigs/yaml yaml.go (YAMLToJSON) with goyaml.v2/resolve.go:
    // a plain 8000 is an int, sent as a JSON number into map[string]string.
    check(Case {
        edits: &[(CONFIGMAP, "PORT: \"8000\"", "PORT: 8000")],
        failed: &["parse"],
        at: (CONFIGMAP, "PORT: 8000"),
        message: "ConfigMap/health-config: data.PORT is 8000, unquoted, which kubectl reads as a number (YAML 1.1, as sigs.k8s.io/yaml decodes it), but the field holds a string: the API server refuses the object",
        hint: "quote it: PORT: \"8000\"",
        source: "kubernetes-sigs/yaml yaml.go + goyaml.v2/resolve.go",
    });
}

#[test]
fn yes_on_and_decimals_in_string_fields_are_each_reported() {
    // goyaml.v2/resolve.go: yes/on are booleans (YAML 1.1), 1.0 a float;
    // labels and annotations are map[string]string like ConfigMap data.
    let source = "kubernetes-sigs/yaml goyaml.v2/resolve.go";
    let copy = StageCopy::new("solutions/04-kubernetes");
    copy.replace(CONFIGMAP, "PORT: \"8000\"", "PORT: \"8000\"\n  RATIO: 1.0");
    copy.replace(CONFIGMAP, "RUST_LOG: info", "RUST_LOG: on");
    copy.replace(
        CONFIGMAP,
        "  labels:\n    app.kubernetes.io/name: health",
        "  labels:\n    app.kubernetes.io/name: health\n    canary: yes\n  annotations:\n    build: 42",
    );
    let run = verify(&["--dir", copy.path_str()]);
    assert!(!run.success);
    let parse = run.check("parse").unwrap();
    assert_eq!(parse["status"], "failed", "{source}: {parse}");
    let seen = parse["seen"].as_str().unwrap();
    let text = std::fs::read_to_string(copy.path.join(CONFIGMAP)).unwrap();
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (needle, message) in [
        (
            "canary: yes",
            "metadata.labels.canary is yes, unquoted, which kubectl reads as a boolean",
        ),
        (
            "build: 42",
            "metadata.annotations.build is 42, unquoted, which kubectl reads as a number",
        ),
        (
            "RATIO: 1.0",
            "data.RATIO is 1.0, unquoted, which kubectl reads as a number",
        ),
        (
            "RUST_LOG: on",
            "data.RUST_LOG is on, unquoted, which kubectl reads as a boolean",
        ),
    ] {
        let expected = format!(
            "{CONFIGMAP}:{}: ConfigMap/health-config: {message}",
            line(needle)
        );
        assert!(
            seen.contains(&expected),
            "{source}: {expected:?} not in\n{seen}"
        );
    }
    // Reported in file order, and the object is still read, so nothing else fails.
    assert!(
        seen.find("canary").unwrap() < seen.find("RUST_LOG").unwrap(),
        "{seen}"
    );
    let failed: Vec<_> = run
        .checks()
        .into_iter()
        .filter(|c| c["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
}

// ---- Quantities and resources ----------------------------------------------

#[test]
fn a_memory_amount_that_is_no_quantity_fails_the_resources_check() {
    // kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go:
    // ErrFormatWrong for a suffix outside the grammar.
    check(Case {
        edits: &[(DEPLOYMENT, "memory: 32Mi", "memory: 32MB")],
        failed: &["resources"],
        at: (DEPLOYMENT, "memory: 32MB"),
        message: "Deployment/health: container health: resources.requests.memory \"32MB\" is not a quantity: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        hint: "for example memory: 64Mi, cpu: 50m",
        source: "apimachinery pkg/api/resource/quantity.go",
    });
}

#[test]
fn a_request_above_its_limit_fails_the_resources_check() {
    // kubernetes/kubernetes pkg/apis/core/validation/validation.go
    // ValidateResourceRequirements: "must be less than or equal to memory limit of".
    check(Case {
        edits: &[(DEPLOYMENT, "memory: 32Mi", "memory: 128Mi")],
        failed: &["resources"],
        at: (DEPLOYMENT, "memory: 128Mi"),
        message: "Deployment/health: container health: resources.requests.memory 128Mi must be less than or equal to memory limit of 64Mi",
        hint: "lower the request or raise the limit",
        source: "pkg/apis/core/validation/validation.go ValidateResourceRequirements",
    });
}

#[test]
fn memory_in_milli_units_fails_the_resources_check() {
    // The kit's own rule: quantity.go reads m as 10^-3, which the API server accepts.
    check(Case {
        edits: &[(DEPLOYMENT, "memory: 64Mi", "memory: 64m")],
        failed: &["resources"],
        at: (DEPLOYMENT, "memory: 64m"),
        message: "Deployment/health: container health: resources.limits.memory 64m means 64m thousandths of a byte",
        hint: "write mebibytes as Mi: memory: 64Mi",
        source: "the kit's rule (suffix m of apimachinery quantity.go)",
    });
}

// ---- Supported values -----------------------------------------------------

#[test]
fn an_image_pull_policy_in_the_wrong_case_fails_the_values_check() {
    // pkg/apis/core/validation/validation.go validatePullPolicy (supportedPullPolicies).
    check(Case {
        edits: &[(
            DEPLOYMENT,
            "imagePullPolicy: IfNotPresent",
            "imagePullPolicy: ifNotPresent",
        )],
        failed: &["values"],
        at: (DEPLOYMENT, "imagePullPolicy:"),
        message: "Deployment/health: container health: imagePullPolicy \"ifNotPresent\" is not supported (supported values: \"Always\", \"IfNotPresent\", \"Never\")",
        hint: "case-sensitive",
        source: "pkg/apis/core/validation/validation.go validatePullPolicy",
    });
}

#[test]
fn a_lower_case_protocol_fails_the_values_check() {
    // pkg/apis/core/validation/validation.go validateServicePort (supportedPortProtocols).
    check(Case {
        edits: &[(SERVICE, "protocol: TCP", "protocol: tcp")],
        failed: &["values"],
        at: (SERVICE, "protocol: tcp"),
        message: "Service/health: port 8000: protocol \"tcp\" is not supported (supported values: \"TCP\", \"UDP\", \"SCTP\")",
        hint: "leave protocol out for TCP",
        source: "pkg/apis/core/validation/validation.go supportedPortProtocols",
    });
}

#[test]
fn an_unknown_service_type_fails_the_values_check() {
    // pkg/apis/core/validation/validation.go ValidateService (supportedServiceType).
    check(Case {
        edits: &[(SERVICE, "type: ClusterIP", "type: Clusterip")],
        failed: &["values", "port"],
        at: (SERVICE, "type: Clusterip"),
        message: "Service/health: spec.type \"Clusterip\" is not supported (supported values: \"ClusterIP\", \"NodePort\", \"LoadBalancer\", \"ExternalName\")",
        hint: "case-sensitive",
        source: "pkg/apis/core/validation/validation.go supportedServiceType",
    });
}

// ---- Names and labels -------------------------------------------------------

#[test]
fn a_deployment_name_with_capitals_fails_the_names_check() {
    // staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go IsDNS1123Subdomain.
    check(Case {
        edits: &[(
            DEPLOYMENT,
            "metadata:\n  name: health\n",
            "metadata:\n  name: Health_App\n",
        )],
        failed: &["names"],
        at: (DEPLOYMENT, "name: Health_App"),
        message: "Deployment/Health_App: metadata.name \"Health_App\" is not a DNS-1123 subdomain: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters",
        hint: "for example health-config",
        source: "apimachinery pkg/util/validation/validation.go IsDNS1123Subdomain",
    });
}

#[test]
fn a_service_name_starting_with_a_digit_fails_the_names_check() {
    // apimachinery validation.go IsDNS1035Label (core validation ValidateServiceName).
    check(Case {
        edits: &[(
            SERVICE,
            "metadata:\n  name: health\n",
            "metadata:\n  name: 1health\n",
        )],
        failed: &["names"],
        at: (SERVICE, "name: 1health"),
        message: "Service/1health: metadata.name \"1health\" is not a DNS-1035 label: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character",
        hint: "starting with a letter",
        source: "apimachinery pkg/util/validation/validation.go IsDNS1035Label",
    });
}

#[test]
fn a_container_name_with_capitals_fails_the_names_check() {
    // apimachinery validation.go IsDNS1123Label (core validation validateContainers).
    check(Case {
        edits: &[(DEPLOYMENT, "- name: health", "- name: Health")],
        failed: &["names"],
        at: (DEPLOYMENT, "- name: Health"),
        message: "Deployment/health: container name \"Health\" is not a DNS-1123 label",
        hint: "lower-case letters, digits and '-'",
        source: "apimachinery pkg/util/validation/validation.go IsDNS1123Label",
    });
}

#[test]
fn a_label_value_with_a_space_and_a_bad_label_key_fail_the_names_check() {
    // apimachinery validation.go IsValidLabelValue / IsQualifiedName
    // (now pkg/api/validate/content): at most 63 characters of [-A-Za-z0-9_.],
    // alphanumeric at both ends.
    check(Case {
        edits: &[(
            SERVICE,
            "  labels:\n    app.kubernetes.io/name: health",
            "  labels:\n    app.kubernetes.io/name: health service\n    app.kubernetes.io/-part: x",
        )],
        failed: &["names"],
        at: (SERVICE, "health service"),
        message: "Service/health: metadata.labels: the value \"health service\" of label app.kubernetes.io/name is not a valid label value",
        hint: "for example health or 0.1.0",
        source: "apimachinery validation.go IsValidLabelValue",
    });
    check(Case {
        edits: &[(
            SERVICE,
            "  labels:\n    app.kubernetes.io/name: health",
            "  labels:\n    app.kubernetes.io/name: health\n    app.kubernetes.io/-part: x",
        )],
        failed: &["names"],
        at: (SERVICE, "-part"),
        message: "Service/health: metadata.labels: \"app.kubernetes.io/-part\" is not a valid label key: name part must consist of alphanumeric characters",
        hint: "PREFIX/NAME",
        source: "apimachinery validation.go IsQualifiedName",
    });
}

#[test]
fn a_configmap_key_with_a_space_fails_the_names_check() {
    // apimachinery validation.go IsConfigMapKey.
    check(Case {
        edits: &[(CONFIGMAP, "RUST_LOG: info", "RUST LOG: info")],
        failed: &["names"],
        at: (CONFIGMAP, "RUST LOG"),
        message: "ConfigMap/health-config: data: the key \"RUST LOG\" is not a valid ConfigMap key",
        hint: "letters, digits",
        source: "apimachinery pkg/util/validation/validation.go IsConfigMapKey",
    });
}

// ---- Ports ------------------------------------------------------------------

#[test]
fn a_container_port_out_of_range_fails_the_ports_check() {
    // apimachinery validation.go IsValidPortNum.
    check(Case {
        edits: &[(DEPLOYMENT, "containerPort: 8000", "containerPort: 80000")],
        failed: &["ports"],
        at: (DEPLOYMENT, "containerPort: 80000"),
        message: "Deployment/health: container health: containerPort 80000 must be between 1 and 65535, inclusive",
        hint: "1 to 65535",
        source: "apimachinery pkg/util/validation/validation.go IsValidPortNum",
    });
}

#[test]
fn a_second_unnamed_service_port_fails_the_ports_check() {
    // pkg/apis/core/validation/validation.go validateServicePort: a name is
    // required when a Service has more than one port.
    check(Case {
        edits: &[(
            SERVICE,
            "      protocol: TCP",
            "      protocol: TCP\n    - port: 9000\n      targetPort: http",
        )],
        failed: &["ports"],
        at: (SERVICE, "- port: 9000"),
        message: "Service/health: spec.ports[1] (port 9000) has no name, and the Service has 2 ports (the API server refuses it: spec.ports[1].name: Required value)",
        hint: "name every port of a Service with several",
        source: "pkg/apis/core/validation/validation.go validateServicePort",
    });
}

#[test]
fn a_second_unnamed_container_port_fails_the_ports_check() {
    // The kit's own rule (the API server allows it): several ports, each named.
    check(Case {
        edits: &[(
            DEPLOYMENT,
            "              containerPort: 8000\n",
            "              containerPort: 8000\n            - containerPort: 9000\n",
        )],
        failed: &["ports"],
        at: (DEPLOYMENT, "- containerPort: 9000"),
        message: "Deployment/health: container health: port 9000 has no name, and the container has 2 ports (a rule of this kit",
        hint: "name every port when there are several",
        source: "the kit's rule",
    });
}

#[test]
fn service_port_and_target_port_names_follow_the_upstream_syntax() {
    // validateServicePort: a Service port name is a DNS-1123 label (apimachinery
    // validation.go IsDNS1123Label); a named targetPort is an IANA_SVC_NAME
    // (IsValidPortName: at most 15 characters of [-a-z0-9], one letter at least).
    check(Case {
        edits: &[(SERVICE, "    - name: http", "    - name: HTTP")],
        failed: &["ports"],
        at: (SERVICE, "- name: HTTP"),
        message: "Service/health: spec.ports[0].name \"HTTP\" is not a DNS-1123 label",
        hint: "lower-case letters",
        source: "validateServicePort + apimachinery validation.go IsDNS1123Label",
    });
    check(Case {
        edits: &[(SERVICE, "targetPort: http", "targetPort: http_server")],
        failed: &["ports", "targetPort"],
        at: (SERVICE, "targetPort: http_server"),
        message: "Service/health: spec.ports[0].targetPort \"http_server\" must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        hint: "the name of a container port",
        source: "apimachinery pkg/util/validation/validation.go IsValidPortName",
    });
}

#[test]
fn an_empty_ports_list_fails_the_target_port_check() {
    // pkg/apis/core/validation/validation.go ValidateService: spec.ports is
    // required unless the Service is headless or an ExternalName.
    check(Case {
        edits: &[(
            SERVICE,
            "  ports:\n    - name: http\n      port: 8000 # the Service's port\n      targetPort: http # the container port, by name\n      protocol: TCP\n",
            "  ports: []\n",
        )],
        failed: &["targetPort", "port"],
        at: (SERVICE, "ports: []"),
        message: "Service/health: spec.ports is empty, so the Service forwards no port to the pods (the API server refuses it: spec.ports: Required value)",
        hint: "targetPort names the container's port",
        source: "pkg/apis/core/validation/validation.go ValidateService",
    });
}

// ---- Probes -----------------------------------------------------------------

#[test]
fn a_liveness_probe_asking_for_two_successes_fails_the_probes_check() {
    // pkg/apis/core/validation/validation.go validateContainers: livenessProbe
    // (and startupProbe) successThreshold "must be 1".
    check(Case {
        edits: &[(
            DEPLOYMENT,
            "            periodSeconds: 10\n            failureThreshold: 3",
            "            periodSeconds: 10\n            failureThreshold: 3\n            successThreshold: 2",
        )],
        failed: &["probes"],
        at: (DEPLOYMENT, "successThreshold: 2"),
        message: "Deployment/health: container health: livenessProbe.successThreshold is 2, but must be 1",
        hint: "remove successThreshold",
        source: "pkg/apis/core/validation/validation.go validateContainers",
    });
}

#[test]
fn a_probe_with_two_handlers_fails_the_probes_check() {
    // pkg/apis/core/validation/validation.go validateHandler:
    // "may not specify more than 1 handler type".
    check(Case {
        edits: &[(
            DEPLOYMENT,
            "          readinessProbe:\n            httpGet:\n              path: /\n              port: http\n",
            "          readinessProbe:\n            httpGet:\n              path: /\n              port: http\n            tcpSocket:\n              port: http\n",
        )],
        failed: &["probes"],
        at: (DEPLOYMENT, "tcpSocket:"),
        message: "Deployment/health: container health: readinessProbe has httpGet and tcpSocket (the API server refuses it: may not specify more than 1 handler type)",
        hint: "keep one way to probe",
        source: "pkg/apis/core/validation/validation.go validateHandler",
    });
}

#[test]
fn a_grpc_probe_port_out_of_range_fails_the_ports_check() {
    // apimachinery validation.go IsValidPortNum, applied to probe ports.
    check(Case {
        edits: &[(
            DEPLOYMENT,
            "          livenessProbe:\n            httpGet:\n              path: /\n              port: http\n",
            "          livenessProbe:\n            grpc:\n              port: 70000\n",
        )],
        failed: &["ports"],
        at: (DEPLOYMENT, "port: 70000"),
        message: "Deployment/health: container health: livenessProbe.grpc.port 70000 must be between 1 and 65535, inclusive",
        hint: "1 to 65535",
        source: "apimachinery pkg/util/validation/validation.go IsValidPortNum",
    });
}

// ---- YAML ----------------------------------------------------------------------

#[test]
fn a_key_given_twice_fails_the_parse_check() {
    // kubernetes-sigs/yaml goyaml.v2/decode.go setMapIndex: YAMLToJSON is not
    // strict, so the last value wins.
    check(Case {
        edits: &[(
            CONFIGMAP,
            "RUST_LOG: info",
            "RUST_LOG: info\n  RUST_LOG: debug",
        )],
        failed: &["parse"],
        at: (CONFIGMAP, "RUST_LOG: debug"),
        message: "the key RUST_LOG appears twice in one mapping (first on line 16); YAML forbids that, and a lenient reader such as kubectl's YAML library keeps only this last one",
        hint: "keep one of them",
        source: "goyaml.v2/decode.go setMapIndex",
    });
}
