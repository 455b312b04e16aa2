"""deploy/: every manifest validated strictly, the admission policy's CEL evaluated, and checkov.

Run by scripts/test-deploy.sh (which installs the tools into .venv-deploy):
  .venv-deploy/bin/python -m unittest discover -s tests/deploy -v

- Kubernetes objects: kubernetes-validate --strict (the Kubernetes OpenAPI schema, 1.30).
- KServe and Istio objects: the openAPIV3Schema of their CRDs (testdata/deploy/crds, origin in
  its README), strict: a property the schema does not declare is refused unless the schema
  preserves unknown fields.
- Each manifest also gets a known-bad copy (an undeclared field), which must be refused, and the
  layer properties (default deny, get-only Role, STRICT mTLS, ...) are checked on the manifests
  and refused on the known-bad copies in testdata/deploy/bad.
- The ValidatingAdmissionPolicy CEL is evaluated with cel-python against sample objects.
- `kubectl kustomize` builds the package to exactly its manifests, also after the namespace
  rename kustomization.yaml documents.
"""
import copy
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import celpy
import jsonschema
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TESTDATA = ROOT / "testdata" / "deploy"
VENV_BIN = pathlib.Path(sys.executable).parent
K8S_VERSION = "1.30.0"
CRD_KINDS = {"InferenceService", "ClusterStorageContainer", "RequestAuthentication",
             "AuthorizationPolicy", "PeerAuthentication"}
CLUSTER_SCOPED = {"Namespace", "ClusterStorageContainer", "ValidatingAdmissionPolicy",
                  "ValidatingAdmissionPolicyBinding"}


def docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifests():
    """(file, document) for every object deploy/ and examples/ ship."""
    out = []
    for path in sorted(DEPLOY.glob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out += [(path, d) for d in docs(path)]
    return out


# ---------------------------------------------------------------- schemas

def crd_schemas():
    schemas = {}
    for path in (TESTDATA / "crds").glob("*.yaml"):
        for crd in docs(path):
            kind = crd["spec"]["names"]["kind"]
            group = crd["spec"]["group"]
            for v in crd["spec"]["versions"]:
                schemas[(f"{group}/{v['name']}", kind)] = v["schema"]["openAPIV3Schema"]
    return schemas


def strict(schema):
    """The schema with undeclared properties refused, as `kubectl apply --validate=strict`
    refuses them (the API server would otherwise prune them silently)."""
    schema = copy.deepcopy(schema)

    def walk(s):
        if not isinstance(s, dict):
            return
        if "properties" in s and not s.get("x-kubernetes-preserve-unknown-fields"):
            s.setdefault("additionalProperties", False)
        for p in (s.get("properties") or {}).values():
            walk(p)
        for key in ("items", "additionalProperties"):
            if isinstance(s.get(key), dict):
                walk(s[key])
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in s.get(key, []):
                walk(sub)

    walk(schema)
    # metadata is an ObjectMeta the CRD does not describe.
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    schema["properties"]["apiVersion"] = {"type": "string"}
    schema["properties"]["kind"] = {"type": "string"}
    return schema


SCHEMAS = None


def crd_errors(doc):
    global SCHEMAS
    if SCHEMAS is None:
        SCHEMAS = {k: strict(v) for k, v in crd_schemas().items()}
    schema = SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    if schema is None:
        return [f"no vendored CRD for {doc['apiVersion']} {doc['kind']}"]
    v = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in v.iter_errors(doc)]


def k8s_errors(doc):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(doc, f)
        f.flush()
        r = subprocess.run([str(VENV_BIN / "kubernetes-validate"), "--strict", "--quiet",
                            "-k", K8S_VERSION, f.name], capture_output=True, text=True)
    return [] if r.returncode == 0 else [r.stdout + r.stderr]


def errors(doc):
    return crd_errors(doc) if doc["kind"] in CRD_KINDS else k8s_errors(doc)


def with_undeclared_field(doc):
    bad = copy.deepcopy(doc)
    target = bad.get("spec") if isinstance(bad.get("spec"), dict) else bad
    target["notAField"] = True
    return bad



def modelseal_bin():
    """The modelseal binary under test: MODELSEAL_BIN (scripts/test-deploy.sh sets it from
    cargo's target directory). Missing is a failure, never a skip."""
    import os
    path = os.environ.get("MODELSEAL_BIN")
    if not path:
        raise AssertionError("MODELSEAL_BIN is not set: run scripts/test-deploy.sh")
    if not pathlib.Path(path).is_file():
        raise AssertionError(f"{path} is missing: run cargo build first")
    return pathlib.Path(path)

class Schemas(unittest.TestCase):
    def test_every_manifest_is_valid_and_its_bad_copy_is_refused(self):
        seen = set()
        for path, doc in manifests():
            name = f"{path.name} {doc['kind']}/{doc['metadata']['name']}"
            seen.add(doc["kind"])
            with self.subTest(name):
                self.assertEqual(errors(doc), [], name)
                self.assertNotEqual(errors(with_undeclared_field(doc)), [],
                                    f"{name}: a copy with an undeclared field passed")
        for kind in CRD_KINDS | {"NetworkPolicy", "Role", "RoleBinding", "ServiceAccount",
                                 "ValidatingAdmissionPolicy", "Namespace"}:
            self.assertIn(kind, seen)

    def test_known_bad_copies_fail_schema_validation(self):
        for path in sorted((TESTDATA / "bad").glob("schema-*.yaml")):
            for doc in docs(path):
                with self.subTest(path.name):
                    self.assertNotEqual(errors(doc), [], f"{path.name} passed")

    def test_kustomization_lists_every_manifest(self):
        k = docs(DEPLOY / "kustomization.yaml")[0]
        listed = set(k["resources"])
        present = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
        self.assertEqual(listed, present)
        # No namespace transformer: it would stamp a namespace on the cluster-scoped
        # ClusterStorageContainer, whose scope kustomize does not know. Each namespaced object
        # names the package's namespace itself, and cluster-scoped ones name none.
        self.assertNotIn("namespace", k)
        ns = docs(DEPLOY / "namespace.yaml")[0]["metadata"]["name"]
        for path in DEPLOY.glob("*.yaml"):
            if path.name == "kustomization.yaml":
                continue
            for doc in docs(path):
                with self.subTest(f"{path.name} {doc['kind']}"):
                    if doc["kind"] in CLUSTER_SCOPED:
                        self.assertNotIn("namespace", doc["metadata"])
                    else:
                        self.assertEqual(doc["metadata"].get("namespace"), ns)

    def test_aws_policies_are_json_and_the_bucket_policy_is_modelseals(self):
        for p in (DEPLOY / "aws").glob("*.json"):
            json.loads(p.read_text())
        bucket = json.loads((DEPLOY / "aws" / "bucket-policy.json").read_text())
        reader = json.loads((DEPLOY / "aws" / "reader-iam-policy.json").read_text())
        arn = [s for s in reader["Statement"] if s["Action"] == "kms:Decrypt"][0]["Resource"]
        ms = modelseal_bin()
        out = subprocess.run([str(ms), "policy", "bucket", "--bucket", "models",
                              "--sse-kms-key-id", arn], capture_output=True, text=True, check=True)
        self.assertEqual(json.loads(out.stdout), bucket)


    def test_the_trust_configmap_holds_a_valid_policy(self):
        """The ConfigMap's policy.json is a trust policy (docs/trust-policy.schema.json), and with
        a real key in place of the placeholder `modelseal trust check` accepts it."""
        schema = json.loads((ROOT / "docs" / "trust-policy.schema.json").read_text())
        cms = [d for _, d in manifests()
               if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "modelseal-trust"]
        self.assertEqual(len(cms), 1)
        text = cms[0]["data"]["policy.json"]
        policy = json.loads(text)
        jsonschema.validate(policy, schema)
        for example in sorted((ROOT / "examples").glob("trust-policy-*.json")):
            jsonschema.validate(json.loads(example.read_text()), schema)
        ms = modelseal_bin()
        key = (ROOT / "testdata" / "model-signing" / "dir-basic" / "keys" / "signer.pub.pem").read_text()
        real = text.replace("-----BEGIN PUBLIC KEY-----\\nREPLACE-WITH-YOUR-cosign.pub\\n-----END PUBLIC KEY-----\\n",
                            key.replace("\n", "\\n"))
        self.assertNotEqual(real, text, "the placeholder moved")
        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "policy.json"
            path.write_text(real)
            out = subprocess.run([str(ms), "trust", "check", str(path)], capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            path.write_text(text)
            out = subprocess.run([str(ms), "trust", "check", str(path)], capture_output=True, text=True)
            self.assertEqual(out.returncode, 2, "the placeholder is not a key")
            self.assertIn("rules[0].authorities[0].key.pem", out.stderr)


# ---------------------------------------------------------------- kustomize

def kustomize(directory):
    """The objects `kubectl kustomize DIR` builds (kubectl embeds kustomize)."""
    r = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory}: {r.stderr}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def canonical(objs):
    return sorted(json.dumps(o, sort_keys=True) for o in objs)


class Kustomize(unittest.TestCase):
    def test_the_package_builds_to_exactly_its_manifests(self):
        files = [d for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml"
                 for d in docs(p)]
        self.assertEqual(canonical(kustomize(DEPLOY)), canonical(files))

    def test_the_documented_rename_moves_every_namespaced_object(self):
        line = [ln for ln in (DEPLOY / "kustomization.yaml").read_text().splitlines()
                if "sed -i" in ln][0]
        script = re.search(r"sed -i '([^']+)' deploy/\*\.yaml", line).group(1)
        with tempfile.TemporaryDirectory() as tmp:
            pkg = pathlib.Path(tmp) / "deploy"
            shutil.copytree(DEPLOY, pkg)
            subprocess.run(["sed", "-i", script.replace("NAME", "team-a")]
                           + sorted(str(p) for p in pkg.glob("*.yaml")), check=True)
            built = kustomize(pkg)
        self.assertEqual(len(built), len(kustomize(DEPLOY)))
        for obj in built:
            with self.subTest(f"{obj['kind']} {obj['metadata']['name']}"):
                if obj["kind"] == "Namespace":
                    self.assertEqual(obj["metadata"]["name"], "team-a")
                elif obj["kind"] in CLUSTER_SCOPED:
                    self.assertNotIn("namespace", obj["metadata"])
                else:
                    self.assertEqual(obj["metadata"]["namespace"], "team-a")

    def test_a_namespace_transformer_would_stamp_cluster_scoped_objects(self):
        # Why kustomization.yaml sets no `namespace:`: kustomize does not know the CRD's scope.
        with tempfile.TemporaryDirectory() as tmp:
            pkg = pathlib.Path(tmp) / "deploy"
            shutil.copytree(DEPLOY, pkg)
            with open(pkg / "kustomization.yaml", "a") as f:
                f.write("namespace: other\n")
            built = kustomize(pkg)
        csc = [o for o in built if o["kind"] == "ClusterStorageContainer"][0]
        self.assertEqual(csc["metadata"].get("namespace"), "other")


# ---------------------------------------------------------------- layer properties

def layer_problems(objs):
    """What the four layers promise, checked on a set of objects; [] when all hold."""
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    p = []
    nps = by_kind.get("NetworkPolicy", [])
    if not any(n["spec"]["podSelector"] == {} and set(n["spec"]["policyTypes"]) == {"Ingress", "Egress"}
               and not n["spec"].get("ingress") and not n["spec"].get("egress") for n in nps):
        p.append("no default-deny NetworkPolicy for ingress and egress")
    for n in nps:
        for rule in n["spec"].get("egress", []):
            if not rule.get("to"):
                p.append(f"NetworkPolicy {n['metadata']['name']} allows egress anywhere")
            for peer in rule.get("to", []):
                if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0":
                    p.append(f"NetworkPolicy {n['metadata']['name']} allows egress to 0.0.0.0/0")
        for rule in n["spec"].get("ingress", []):
            if not rule.get("from"):
                p.append(f"NetworkPolicy {n['metadata']['name']} allows ingress from anywhere")
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        if by_kind.get(kind):
            p.append(f"a {kind} is shipped")
    for r in by_kind.get("Role", []):
        for rule in r["rules"]:
            if set(rule["verbs"]) != {"get"}:
                p.append(f"Role {r['metadata']['name']} grants {rule['verbs']}")
            if len(rule.get("resourceNames", [])) != 1:
                p.append(f"Role {r['metadata']['name']} is not limited to one named object")
    for sa in by_kind.get("ServiceAccount", []):
        if sa.get("automountServiceAccountToken") is not False:
            p.append(f"ServiceAccount {sa['metadata']['name']} mounts an API token")
        if "eks.amazonaws.com/role-arn" not in sa["metadata"].get("annotations", {}):
            p.append(f"ServiceAccount {sa['metadata']['name']} has no IRSA role")
    pas = by_kind.get("PeerAuthentication", [])
    if not any(pa["spec"].get("mtls", {}).get("mode") == "STRICT" and not pa["spec"].get("selector")
               for pa in pas):
        p.append("no namespace-wide STRICT PeerAuthentication")
    if not any(ra["spec"].get("jwtRules") for ra in by_kind.get("RequestAuthentication", [])):
        p.append("no RequestAuthentication with a JWT rule")
    authz = by_kind.get("AuthorizationPolicy", [])
    for a in authz:
        for rule in a["spec"].get("rules", []):
            sources = [f.get("source", {}) for f in rule.get("from", [])]
            with_principal = any(s.get("requestPrincipals") for s in sources)
            limited = rule.get("to") and all(op.get("operation", {}).get("paths")
                                             for op in rule["to"])
            if not (with_principal or limited):
                p.append(f"AuthorizationPolicy {a['metadata']['name']} allows a request without a token")
    if not any(a["spec"].get("action", "ALLOW") == "ALLOW" and a["spec"].get("rules") for a in authz):
        p.append("no ALLOW AuthorizationPolicy requiring a request principal")
    return p


class Layers(unittest.TestCase):
    def test_the_package_keeps_every_promise(self):
        objs = [d for path, d in manifests() if path.parent == DEPLOY]
        self.assertEqual(layer_problems(objs), [])

    def test_each_known_bad_copy_breaks_a_promise(self):
        objs = [d for path, d in manifests() if path.parent == DEPLOY]
        bad_files = sorted((TESTDATA / "bad").glob("layer-*.yaml"))
        self.assertGreaterEqual(len(bad_files), 5)
        for path in bad_files:
            bad = docs(path)
            replaced = {(d["kind"], d["metadata"]["name"]) for d in bad}
            mixed = [o for o in objs if (o["kind"], o["metadata"]["name"]) not in replaced] + bad
            with self.subTest(path.name):
                self.assertNotEqual(layer_problems(mixed), [], f"{path.name} kept every promise")


# ---------------------------------------------------------------- admission CEL

CEL = celpy.Environment()


def admit(policy, obj):
    """Evaluates a ValidatingAdmissionPolicy's variables and validations against `obj` as the
    API server does; returns the messages of the validations that deny (an error denies too,
    as failurePolicy: Fail does)."""
    variables = {}
    activation = {"object": celpy.json_to_cel(obj)}

    def run(expr):
        activation["variables"] = celpy.celtypes.MapType(
            {celpy.celtypes.StringType(k): v for k, v in variables.items()})
        return CEL.program(CEL.compile(expr)).evaluate(activation)

    for v in policy["spec"].get("variables", []):
        variables[v["name"]] = run(v["expression"])
    denied = []
    for v in policy["spec"]["validations"]:
        result = run(v["expression"])
        if not isinstance(result, celpy.celtypes.BoolType):
            denied.append(f"error: {result}")
        elif not result:
            denied.append(v["message"])
    return denied


def policies():
    return {d["metadata"]["name"]: d for d in docs(DEPLOY / "admission.yaml")
            if d["kind"] == "ValidatingAdmissionPolicy"}


def isvc(**spec):
    base = {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                    "storageUri": "s3://models/llm/v1"}}}
    base.update(spec)
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "m", "namespace": "models"}, "spec": base}


def canary(uri):
    return {"trafficPercent": 10,
            "predictor": {"model": {"name": "c", "modelFormat": {"name": "sklearn"},
                                    "storageUri": uri}}}


def pod(image):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "models"},
            "spec": {"initContainers": [{"name": "storage-initializer", "image": image,
                                         "args": ["s3://models/llm/v1", "/mnt/models"]}],
                     "containers": [{"name": "kserve-container", "image": "kserve/sklearnserver"}]}}


def gen_admission():
    sys.path.insert(0, str(ROOT / "scripts"))
    import importlib
    return importlib.import_module("gen-admission")


class Admission(unittest.TestCase):
    def setUp(self):
        self.locations = policies()["modelseal-model-locations"]
        self.initializer = policies()["modelseal-storage-initializer"]
        gen = gen_admission()
        self.image = gen.IMAGE + "@" + gen.DIGEST

    def admit(self, policy, obj):
        """`admit`, on an object the API server would accept (strict schema: the vendored CRD or
        the Kubernetes OpenAPI). cel-python is untyped, so a field name the policy misspells
        would read as absent; judging only schema-valid samples ties the paths the policy
        reads to the schema's, as the API server's type check would."""
        self.assertEqual(errors(obj), [], f"sample is not schema-valid: {obj}")
        return admit(policy, obj)

    def test_generated_file_is_current_and_matches_the_storage_container(self):
        self.assertEqual(gen_admission().render(), (DEPLOY / "admission.yaml").read_text())
        csc = [d for d in docs(DEPLOY / "cluster-storage-container.yaml")
               if d["kind"] == "ClusterStorageContainer"][0]
        self.assertEqual(csc["spec"]["container"]["image"], self.image)

    def test_compliant_objects_pass(self):
        example = docs(ROOT / "examples" / "inferenceservice.yaml")[0]
        for obj in [isvc(), example,
                    isvc(predictor={"sklearn": {"storageUri": "s3://b/k"},
                                    "storageUris": [{"uri": "s3://b/a", "mountPath": "/mnt/a"}]},
                         transformer={"containers": [{"name": "t", "image": "t",
                                                      "env": [{"name": "STORAGE_URI", "value": "s3://b/t"}]}]},
                         explainer={"art": {"storageUri": "s3://b/e"}},
                         canary=[canary("s3://b/c")])]:
            self.assertEqual(self.admit(self.locations, obj), [])
        self.assertEqual(self.admit(self.initializer, pod(self.image)), [])
        self.assertEqual(self.admit(self.initializer, pod(self.image.replace("@", ":0.1.0@"))), [])
        no_init = pod(self.image)
        del no_init["spec"]["initContainers"]
        self.assertEqual(self.admit(self.initializer, no_init), [])

    def test_non_s3_locations_are_denied_wherever_they_appear(self):
        cases = {
            "pvc": isvc(predictor={"model": {"storageUri": "pvc://claim/model"}}),
            "hf": isvc(predictor={"huggingface": {"storageUri": "hf://org/model"}}),
            "oci": isvc(predictor={"model": {"storageUri": "oci://registry/model:1"}}),
            "https": isvc(predictor={"pytorch": {"storageUri": "https://example.com/m.pt"}}),
            "storage key": isvc(predictor={"model": {"storage": {"key": "s", "path": "m"}}}),
            "storageUris": isvc(predictor={"model": {"storageUri": "s3://b/k"},
                                           "storageUris": [{"uri": "s3://b/a"}, {"uri": "gs://b/x"}]}),
            "transformer storageUris": isvc(transformer={"storageUris": [{"uri": "pvc://c/t"}]}),
            "transformer STORAGE_URI": isvc(transformer={"containers": [
                {"name": "t", "image": "t", "env": [{"name": "STORAGE_URI", "value": "hf://o/t"}]}]}),
            "STORAGE_URI from a secret": isvc(predictor={"containers": [
                {"name": "c", "image": "c", "env": [{"name": "STORAGE_URI",
                                                    "valueFrom": {"secretKeyRef": {"name": "x", "key": "y"}}}]}]}),
            "explainer": isvc(explainer={"art": {"storageUri": "gs://b/e"}}),
            "canary": isvc(canary=[canary("pvc://c/m")]),
        }
        for name, obj in cases.items():
            with self.subTest(name):
                self.assertNotEqual(self.admit(self.locations, obj), [], f"{name} was admitted")

    def test_other_storage_initializers_are_denied(self):
        for image in ["kserve/storage-initializer:v0.15.0", "kserve/storage-initializer:latest",
                      "ghcr.io/modelseal/modelseal-init:0.1.0",  # a tag alone, digest required
                      "ghcr.io/modelseal/modelseal-init@sha256:" + "1" * 64,
                      "ghcr.io/modelseal/modelseal-init-evil@sha256:" + "0" * 64,
                      "evil.io/ghcr.io/modelseal/modelseal-init@sha256:" + "0" * 64]:
            with self.subTest(image):
                self.assertNotEqual(self.admit(self.initializer, pod(image)), [], f"{image} was admitted")


# ---------------------------------------------------------------- checkov

class Checkov(unittest.TestCase):
    def test_checkov_reports_no_failed_checks(self):
        r = subprocess.run([str(VENV_BIN / "checkov"), "-d", str(DEPLOY), "--framework", "kubernetes",
                            "--skip-download", "--compact", "-o", "json"],
                           capture_output=True, text=True)
        report = json.loads(r.stdout)
        summary = report["summary"] if isinstance(report, dict) else report[0]["summary"]
        self.assertGreater(summary["passed"], 0)
        self.assertEqual(summary["failed"], 0, r.stdout[:4000])


if __name__ == "__main__":
    unittest.main()
