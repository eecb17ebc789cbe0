/**
 * The packaging: hearth.example.yaml against the config schema, compose.yaml, the Dockerfile and the
 * Helm chart. Real tools check them where they are installed (`docker compose config` or Debian's
 * `docker-compose config`, `helm lint` and `helm template`); the chart is also rendered here by a
 * small Go-template renderer and its manifests checked against the Kubernetes schemas with the
 * kubernetes-models package when it is installed. No Docker engine is needed: the image is not built.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { resolveConfig } from "../../src/config/loadConfig.ts";
import { configOptions } from "../../src/config/options.ts";
import { ConfigSchema } from "../../src/config/schema.ts";
import { GoTemplates, type Context } from "./goTemplate.ts";

const root = join(import.meta.dirname, "../..");
const chartDir = join(root, "deploy/helm/hearth");
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function has(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: "ignore", timeout: 30_000 }).status === 0;
}

/** Every setting's dotted path, `[]` standing for a list's items (models.[].id). */
function schemaPaths(schema: Obj, prefix: string[] = []): string[] {
  if (schema.type === "object" && schema.properties) {
    return Object.entries(schema.properties as Obj).flatMap(([k, v]) => schemaPaths(v, [...prefix, k]));
  }
  if (schema.type === "array" && schema.items?.type === "object") return [prefix.join("."), ...schemaPaths(schema.items, [...prefix, "[]"])];
  return [prefix.join(".")];
}

function lookup(doc: unknown, path: string): boolean {
  let node: unknown = doc;
  for (const key of path.split(".")) {
    if (key === "[]") { if (!Array.isArray(node) || node.length === 0) return false; node = node[0]; continue; }
    if (node === null || typeof node !== "object" || !(key in node)) return false;
    node = (node as Obj)[key];
  }
  return true;
}

describe("hearth.example.yaml", () => {
  let text: string;
  before(async () => { text = await readFile(join(root, "hearth.example.yaml"), "utf8"); });

  it("is a valid config as it stands, with the defaults' values", () => {
    const doc = parse(text) as Obj;
    const config = resolveConfig(doc);
    assert.deepEqual(config, resolveConfig({}), "the example, as it stands, must change nothing");
  });

  it("names every setting of the schema, and is still valid with every `#key:` line turned on", () => {
    // `#key: value` lines are settings left off; `# text` lines are comments.
    const on = text.replace(/^(\s*)#(?=[^\s#])/gm, "$1");
    const doc = parse(on) as Obj;
    resolveConfig(doc);
    const missing = schemaPaths(ConfigSchema as unknown as Obj).filter((p) => !lookup(doc, p));
    assert.deepEqual(missing, [], "settings of the schema that hearth.example.yaml does not show");
  });

  it("names each setting's flag and environment variable", () => {
    const missing = configOptions.filter((o) => !text.includes(`--${o.flag}`) || !text.includes(o.env)).map((o) => o.flag);
    assert.deepEqual(missing, []);
  });
});

describe("compose.yaml", () => {
  let compose: Obj;
  before(async () => { compose = parse(await readFile(join(root, "compose.yaml"), "utf8"), { merge: true }) as Obj; });

  it("has Hearth, PostgreSQL, Redis and MinIO, each with a health check, Hearth's on /health", () => {
    const s = compose.services as Obj;
    for (const name of ["hearth", "postgres", "redis", "minio"]) {
      assert.ok(s[name], `service ${name}`);
      assert.ok(s[name].healthcheck?.test, `${name} has a health check`);
      assert.equal(s[name].profiles, undefined, `${name} starts without a profile`);
    }
    assert.match(JSON.stringify(s.hearth.healthcheck.test), /\/health/);
    assert.equal(s.hearth.build.context, ".");
    assert.match(s.hearth.environment.DATABASE_URL, /^postgres:\/\/.*@postgres:5432\//);
    assert.equal(s.hearth.environment.REDIS_URL, "redis://redis:6379");
    assert.equal(s.hearth.environment.AWS_ENDPOINT_URL, "http://minio:9000", "the S3 settings are merged in");
    for (const dep of ["postgres", "redis"]) assert.equal(s.hearth.depends_on[dep].condition, "service_healthy");
    assert.equal(s.hearth.depends_on["model-pull"].condition, "service_completed_successfully");
    assert.match(s["model-pull"].entrypoint.join(" "), /hearth\.js pull "s3:\/\//, "models are pulled from MinIO");
  });

  it("has the upstream engines behind profiles", () => {
    const s = compose.services as Obj;
    assert.deepEqual(s["llama-server"].profiles, ["llama-server"]);
    assert.deepEqual(s.vllm.profiles, ["vllm"]);
    assert.ok(s["llama-server"].healthcheck && s.vllm.healthcheck);
  });

  it("passes `docker compose config` where Compose is installed", (t) => {
    const v2 = has("docker", ["compose", "version"]);
    const cmd = v2 ? ["docker", "compose"] : has("docker-compose", ["version"]) ? ["docker-compose"] : null;
    if (!cmd) { t.skip("neither `docker compose` nor `docker-compose` is installed"); return; }
    for (const profiles of [[], ["--profile", "llama-server", "--profile", "vllm"]]) {
      const services: string = execFileSync(cmd[0]!, [...cmd.slice(1), "-f", join(root, "compose.yaml"), ...profiles, "config", "--services"], { encoding: "utf8", env: { ...process.env, MODEL_FILE: "llama.gguf" } });
      assert.ok(services.includes("hearth"), services);
      if (profiles.length) assert.ok(services.includes("vllm") && services.includes("llama-server"), services);
    }
  });
});

describe("Dockerfile", () => {
  it("is multi-stage, Node.js 26, CPU by default with a CUDA variant, and runs as a non-root user", async () => {
    const text = await readFile(join(root, "Dockerfile"), "utf8");
    assert.ok((text.match(/^FROM /gm) ?? []).length >= 3, "multi-stage");
    assert.match(text, /^ARG VARIANT=cpu$/m);
    assert.match(text, /^ARG NODE_IMAGE=node:26[-.]/m);
    assert.match(text, /^FROM \$\{CUDA_IMAGE\} AS base-cuda$/m);
    assert.match(text, /^FROM base-\$\{VARIANT\} AS runtime$/m);
    const user = /^USER (\S+)$/m.exec(text)?.[1];
    assert.ok(user && /^[1-9]\d*(:\d+)?$/.test(user), "a numeric non-root USER (runAsNonRoot can check it)");
    assert.match(text, /^HEALTHCHECK [\s\S]*\/health/m);
    const ignore = await readFile(join(root, ".dockerignore"), "utf8");
    assert.match(ignore, /^\*\*$/m, ".dockerignore keeps node_modules, models and .env out of the context");
  });
});

/** values.yaml with overrides merged in, as `helm template -f` does. */
function merge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object" && !Array.isArray(out[k]) ? merge(out[k], v) : v;
  }
  return out;
}

const EVERYTHING_ON: Obj = {
  replicaCount: 3,
  image: { repository: "registry.example.com/hearth", tag: "0.1.0-cuda" },
  hearth: { model: "/data/models/llama.gguf", auth: "required", extraEnv: [{ name: "HEARTH_SLOTS", value: "8" }] },
  config: { batching: { max_queue: 64 }, keep_alive: "30m" },
  secrets: { adminKey: "0123456789abcdef0123", databaseUrl: "postgres://h:h@pg:5432/h", redisUrl: "redis://redis:6379", awsAccessKeyId: "id", awsSecretAccessKey: "secret" },
  modelPull: { enabled: true, source: "s3://models/llama.gguf", name: "llama.gguf" },
  s3: { endpoint: "http://minio:9000" },
  persistence: { enabled: true, storageClass: "fast" },
  tls: { enabled: true, secretName: "hearth-tls" },
  service: { annotations: { "example.com/a": "b" } },
  autoscaling: { enabled: true, targetCPUUtilizationPercentage: 80 },
  podDisruptionBudget: { minAvailable: 1 },
  resources: { limits: { "nvidia.com/gpu": 1, memory: "16Gi" } },
  podAnnotations: { "example.com/x": "y" },
  podLabels: { team: "ml" },
  nodeSelector: { gpu: "true" },
  tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
  imagePullSecrets: [{ name: "regcred" }],
};

const VALUE_SETS: [string, Obj][] = [["default values", {}], ["every option on", EVERYTHING_ON], ["an existing Secret", { secrets: { existingSecret: "mine" }, podDisruptionBudget: { enabled: false } }]];

/** Renders the chart's templates with the test's renderer: file name to manifests. */
async function renderChart(overrides: Obj): Promise<Map<string, Obj[]>> {
  const chart = parse(await readFile(join(chartDir, "Chart.yaml"), "utf8")) as Obj;
  const values = merge(parse(await readFile(join(chartDir, "values.yaml"), "utf8")) as Obj, overrides);
  const dot: Context = {
    Values: values,
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    Release: { Name: "demo", Namespace: "llm", Service: "Helm", IsInstall: true },
    Capabilities: { KubeVersion: { Version: "v1.30.0" } },
  };
  const engine = new GoTemplates();
  const dir = join(chartDir, "templates");
  const files = (await readdir(dir)).sort();
  for (const f of files.filter((n) => n.startsWith("_"))) engine.add(await readFile(join(dir, f), "utf8"));
  const out = new Map<string, Obj[]>();
  for (const f of files.filter((n) => n.endsWith(".yaml") && !n.startsWith("_"))) {
    const text = engine.render(await readFile(join(dir, f), "utf8"), dot);
    out.set(f, parseManifests(text, f));
  }
  return out;
}

function parseManifests(text: string, where: string): Obj[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`${where}: ${d.errors[0]!.message}\n${text}`);
    return d.toJS() as Obj;
  }).filter((d) => d !== null && d !== undefined);
}

/**
 * A validator from kubernetes-models (Kubernetes' OpenAPI schemas, bundled: works offline) when it
 * is installed; K8S_MODELS_FROM names another folder to load it from. It checks types and required
 * fields, not unknown ones.
 */
async function kubernetesModels(): Promise<((m: Obj) => void) | null> {
  const dir = join(process.env.K8S_MODELS_FROM ?? root, "node_modules", "kubernetes-models");
  if (!existsSync(join(dir, "package.json"))) return null;
  type Model = new (data: Obj) => { validate(): void };
  const models = new Map<string, Model>();
  for (const [apiVersion, kind] of [["v1", "Secret"], ["v1", "Service"], ["v1", "ConfigMap"], ["v1", "PersistentVolumeClaim"], ["apps/v1", "Deployment"], ["policy/v1", "PodDisruptionBudget"], ["autoscaling/v2", "HorizontalPodAutoscaler"]] as const) {
    const mod = await import(pathToFileURL(join(dir, apiVersion, `${kind}.js`)).href) as Obj;
    models.set(`${apiVersion}/${kind}`, mod[kind] as Model);
  }
  return (m: Obj) => {
    const Model = models.get(`${m.apiVersion}/${m.kind}`);
    assert.ok(Model, `no schema for ${m.apiVersion}/${m.kind}`);
    new Model(m).validate();
  };
}

describe("Helm chart", () => {
  it("renders with every value set; each manifest is a Kubernetes object of a known kind", async () => {
    for (const [label, values] of VALUE_SETS) {
      const all = [...(await renderChart(values)).values()].flat();
      for (const m of all) {
        assert.ok(m.apiVersion && m.kind && m.metadata?.name, `${label}: ${JSON.stringify(m).slice(0, 200)}`);
        assert.match(m.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      }
    }
  });

  it("default values: a Deployment probing /health, a Service, a Secret, a PodDisruptionBudget; no HPA", async () => {
    const r = await renderChart({});
    const [dep] = r.get("deployment.yaml")!;
    const c = dep!.spec.template.spec.containers[0];
    assert.equal(dep!.spec.replicas, 1);
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/health", port: "http", scheme: "HTTP" });
    assert.deepEqual(c.livenessProbe.tcpSocket, { port: "http" }, "liveness: the process is up, even while a model loads");
    assert.equal(dep!.spec.template.spec.securityContext.runAsNonRoot, true);
    assert.equal(c.envFrom[0].secretRef.name, "demo-hearth");
    assert.equal(r.get("service.yaml")![0]!.spec.ports[0].port, 8000);
    assert.equal(r.get("secret.yaml")![0]!.kind, "Secret");
    assert.equal(r.get("pdb.yaml")![0]!.spec.maxUnavailable, 1);
    assert.deepEqual(r.get("hpa.yaml"), []);
    assert.deepEqual(r.get("pvc.yaml"), []);
    assert.deepEqual(r.get("configmap.yaml"), []);
  });

  it("every option on: HPA on queue depth, TLS probes, Secret keys, config file, model pull, volume", async () => {
    const r = await renderChart(EVERYTHING_ON);
    const [hpa] = r.get("hpa.yaml")!;
    assert.equal(hpa!.spec.metrics[0].pods.metric.name, "hearth_requests_waiting");
    assert.equal(hpa!.spec.metrics[0].pods.target.averageValue, "4");
    assert.equal(hpa!.spec.metrics[1].resource.target.averageUtilization, 80);
    const [dep] = r.get("deployment.yaml")!;
    const spec = dep!.spec.template.spec;
    assert.equal(dep!.spec.replicas, undefined, "the HPA owns the replica count");
    assert.equal(spec.containers[0].readinessProbe.httpGet.scheme, "HTTPS");
    assert.deepEqual(spec.containers[0].args, ["serve", "--config", "/etc/hearth/hearth.yaml"]);
    assert.deepEqual(spec.initContainers[0].args, ["pull", "s3://models/llama.gguf", "--name", "llama.gguf"]);
    const env = Object.fromEntries(spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
    assert.equal(env.HEARTH_TLS_CERT, "/etc/hearth/tls/tls.crt");
    assert.equal(env.HEARTH_MODEL, "/data/models/llama.gguf");
    assert.equal(env.HEARTH_SLOTS, "8");
    assert.equal(spec.volumes[0].persistentVolumeClaim.claimName, "demo-hearth");
    assert.deepEqual(Object.keys(r.get("secret.yaml")![0]!.stringData).sort(), ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "HEARTH_ADMIN_KEY", "REDIS_URL"]);
    const hearthYaml = parse(r.get("configmap.yaml")![0]!.data["hearth.yaml"]) as Obj;
    assert.deepEqual(hearthYaml, EVERYTHING_ON.config);
    resolveConfig(hearthYaml);
    assert.equal(r.get("pdb.yaml")![0]!.spec.minAvailable, 1);
    assert.equal(r.get("pvc.yaml")![0]!.spec.storageClassName, "fast");
  });

  it("an existing Secret: none is made, the pod uses it", async () => {
    const r = await renderChart(VALUE_SETS[2]![1]);
    assert.deepEqual(r.get("secret.yaml"), []);
    assert.equal(r.get("deployment.yaml")![0]!.spec.template.spec.containers[0].envFrom[0].secretRef.name, "mine");
  });

  it("validates against the Kubernetes schemas (kubernetes-models) where installed", async (t) => {
    const validate = await kubernetesModels();
    if (!validate) { t.skip("kubernetes-models is not installed"); return; }
    for (const [, values] of VALUE_SETS) {
      for (const m of [...(await renderChart(values)).values()].flat()) validate(m);
    }
  });

  it("passes `helm lint` and `helm template`, which renders what this test's renderer does, where helm is installed", async (t) => {
    if (!has("helm", ["version"])) { t.skip("helm is not installed (no Debian or npm package has it)"); return; }
    const dir = await mkdtemp(join(tmpdir(), "hearth-helm-"));
    try {
      for (const [label, values] of VALUE_SETS) {
        const file = join(dir, "values.yaml");
        await writeFile(file, JSON.stringify(values));
        execFileSync("helm", ["lint", "--strict", chartDir, "-f", file], { encoding: "utf8" });
        const text = execFileSync("helm", ["template", "demo", chartDir, "-n", "llm", "-f", file], { encoding: "utf8" });
        const byHelm = parseManifests(text, "helm template").map((m) => `${m.kind}/${m.metadata.name}: ${JSON.stringify(m)}`).sort();
        const ours = [...(await renderChart(values)).values()].flat().map((m) => `${m.kind}/${m.metadata.name}: ${JSON.stringify(m)}`).sort();
        assert.deepEqual(ours.map((s) => JSON.parse(s.slice(s.indexOf(": ") + 2))), byHelm.map((s) => JSON.parse(s.slice(s.indexOf(": ") + 2))), label);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
