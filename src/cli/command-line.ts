/**
 * Every command's arguments and flags, declared once with commander (through @commander-js/extra-typings,
 * which infers the types). The options each command function takes are derived from these declarations:
 * a flag added here is in the command's options type, with its type, and nowhere else to keep in step.
 */
import { Argument, Command, Option, type OptionValues } from '@commander-js/extra-typings';
import { CONFIG_KINDS } from '../config/kinds.ts';
import { UsageError } from '../errors.ts';
import { parseByteSize } from './byte-size.ts';

function repeatable(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--concurrency ${value}: expected a whole number from 1 to 64`);
  return n;
}

/** A part smaller than 1 MB would make thousands of files of a release: a typo (`--split 4`), not a wish. */
function splitSize(value: string): number {
  const bytes = parseByteSize('--split', value);
  if (bytes < 1_000_000) throw new UsageError(`--split ${value}: parts of less than 1M would make thousands of files`, { hint: 'give the size of the medium, e.g. 4G for FAT32 or 700M for a CD' });
  return bytes;
}

/** A repeatable flag: each use adds a value, none is an empty list. */
function listOption<Flags extends string>(flags: Flags, description: string) {
  return new Option(flags, description).argParser(repeatable).default([] as string[]);
}

/**
 * commander reads `--no-X` as "not --X"; `--no-proxy LIST` is the NO_PROXY variable, not the absence of
 * --proxy. Its value is under `noProxy`, which the inferred types do not know: read it with noProxyOption().
 */
function noProxyOption(description: string) {
  const option = new Option('--no-proxy <list>', description);
  option.negate = false;
  return option;
}

/** The value of --no-proxy LIST (see noProxyOption), checked at run time rather than asserted. */
export function noProxyValue(options: OptionValues): string | undefined {
  const value = options['noProxy'];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The registry flags, one group for every command that talks to a registry: trust, plain HTTP, and
 * credentials as `docker login` takes them. `pull`: collect's registries, the release's sources; `private`:
 * the registry load, deploy and check talk to.
 */
export function withRegistryOptions<Args extends unknown[], Opts extends OptionValues, GlobalOpts extends OptionValues>(command: Command<Args, Opts, GlobalOpts>, registry: 'pull' | 'private') {
  const pull = registry === 'pull';
  return command
    .addOption(listOption('--ca-file <file>', `extra CA certificate(s) to trust for ${pull ? 'registries' : 'the registry'} (repeatable)`))
    .addOption(listOption('--plain-http <host[:port]>', 'talk plain HTTP to this registry (repeatable)'))
    .addOption(new Option('--username <user>', `${pull ? 'user for the registry the release pulls from' : 'registry user'} (with --password-stdin); otherwise ~/.docker/config.json`))
    .addOption(new Option('--password-stdin', `read ${pull ? 'that registry\'s password' : 'the registry password'} from standard input`).default(false));
}

function jsonOption(description = 'print a machine-readable summary on stdout') {
  return new Option('--json', description).default(false);
}

function concurrencyOption(description: string) {
  return new Option('-j, --concurrency <n>', description).argParser(positiveInteger).default(4);
}

export function collectCommandLine() {
  return withRegistryOptions(
    new Command('collect')
      .description('scan a release and pull every image into one deduplicated images.tar.gz, charms into charms.tar.gz, and write airgap-lock.json')
      .argument('[release]', 'airgap.yaml, a Juju bundle.yaml, a Kubernetes manifest or an image list (.txt)', 'airgap.yaml')
      .option('-o, --output <dir>', 'directory for images.tar.gz, charms.tar.gz and airgap-lock.json', '.')
      .addOption(listOption('--platform <os/arch[/variant]>', 'keep only this platform of multi-arch images (repeatable); default: all'))
      .addOption(concurrencyOption('images resolved at once')),
    'pull',
  )
    .option('--per-image', 'write one docker-loadable <name>.tar per image inside images.tar.gz (the guide\'s layout)', false)
    .option('--cache <dir>', 'the blob cache: layers are downloaded into it and the archive written from it, so a re-run downloads only what it lacks (default: $XDG_CACHE_HOME/airgap or ~/.cache/airgap)')
    .option('--no-cache', 'stream layers from the registry straight into the archive, keeping no copy')
    .option('--since <old-lock>', 'a differential archive: leave out the layers the release of that airgap-lock.json already carried')
    .addOption(new Option('--split <size>', 'write images.tar.gz as parts of at most SIZE (e.g. 4G, 700M) for removable media: images.tar.gz.000, .001, ...').argParser(splitSize))
    .option('--with-referrers', 'carry the referrers of every image too: signatures, SBOMs, attestations (OCI 1.1 referrers and cosign\'s sha256-<hex>.sig/.att/.sbom tags)', false)
    .option('--include-tool', 'put the airgap executable (built by `npm run package`) into charms.tar.gz, recorded in the lock', false)
    .addOption(listOption('--tool-platform <linux-x64|linux-arm64>', 'with --include-tool: only this platform\'s executable (repeatable); default: every one built'))
    .option('--list', 'download the charms and show every image with where it is found and every charm; pull nothing, write nothing', false)
    .addOption(listOption('--mirror <registry=mirror[/prefix]>', 'pull REGISTRY\'s images from this mirror or pull-through cache (repeatable); /etc/containers/registries.conf and its registries.conf.d mirrors apply too'))
    .option('--charmhub-url <url>', 'the Charmhub a stock bundle\'s charms are downloaded from (passed to juju download)')
    .option('--juju <path>', 'the juju executable that downloads a stock bundle\'s charms and tells the Juju version (default: juju on PATH)')
    .option('--juju-version <x.y.z>', 'carry the Juju images of this version (jujud-operator, juju-db, charm-base of the charms\' bases); default: what juju version says here')
    .option('--no-juju-images', 'carry no Juju image (the private registry has the controller\'s images already)')
    .option('--allow-outside', 'pack local charm files from outside the release\'s directory too', false)
    .addOption(jsonOption());
}

export function loadCommandLine() {
  return withRegistryOptions(
    new Command('load')
      .description('push every image of images.tar.gz into a private registry, digests unchanged; safe to re-run')
      .argument('[source]', 'the directory holding images.tar.gz (and airgap-lock.json, charms.tar.gz), or the archive', '.')
      .requiredOption('--registry <host[:port][/prefix]>', 'the private registry the images go to'),
    'private',
  )
    .addOption(concurrencyOption('registry requests at once'))
    .addOption(new Option('--via <path>', 'push through the registry API, or through the local Docker Engine').choices(['registry', 'docker'] as const).default('registry' as const))
    .option('--charms-dir <dir>', 'where charms.tar.gz is unpacked when it is beside the images', './charms')
    .option('--no-lock', 'load an archive that has no airgap-lock.json beside it (only blob digests are then checked)')
    .addOption(new Option('--chunk-size <size>', 'largest upload request, e.g. 8MiB, for a proxy that limits request bodies (default 16MiB)').argParser((v: string) => parseByteSize('--chunk-size', v)))
    .addOption(jsonOption());
}

export function deployCommandLine() {
  return withRegistryOptions(
    new Command('deploy')
      .description('rewrite the placeholder registry in a bundle, prove every image is in the registry, deploy bundle, charms and relations, and wait until active')
      .argument('[target]', 'a Juju bundle.yaml, a Kubernetes manifest or an airgap.yaml', 'airgap.yaml')
      .requiredOption('--registry <host[:port][/prefix]>', 'the private registry the images were loaded into')
      .option('--placeholder <host[:port]>', 'the registry host written in the bundle (default: from airgap.yaml or airgap-lock.json)')
      .option('-o, --output <file>', 'the rewritten bundle (default: <bundle>.airgap.yaml beside it)')
      .option('--lock <file>', 'airgap-lock.json (default: beside the target, or in the current directory)')
      .option('--charms-dir <dir>', 'where airgap load unpacked the charms', './charms'),
    'private',
  )
    .option('--dry-run', 'print the rewritten references and every action; change nothing, Juju included', false)
    .option('--strict', 'fail when a reference points at a registry the cluster cannot reach', false)
    .option('-m, --model <name>', 'the Juju model')
    .addOption(listOption('--set <app.option=value>', 'set a charm option (repeatable), e.g. istio-ingressgateway.gateway_service_type=LoadBalancer'))
    .option('--timeout <duration>', 'how long to wait for every application to be active, and for the manifests\' rollouts', '30m')
    .option('--poll-interval <duration>', 'how often to ask Juju for the model\'s status (default 5s) and Kubernetes for the rollouts (default 2s)')
    .option('--juju <path>', 'the juju executable (default: juju on PATH)')
    .option('--kubeconfig <file>', 'kubeconfig for the Kubernetes manifests (default: KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option('-n, --namespace <name>', 'namespace of objects that name none (default: the context\'s, else default)')
    .option('--proxy <url>', 'set HTTP_PROXY and HTTPS_PROXY (both cases) in every container of the manifests\' workloads')
    .addOption(noProxyOption('set NO_PROXY (both cases) likewise (default with --proxy: localhost,127.0.0.1,.svc,.cluster.local)'))
    .addOption(new Option('--internal-services <cloud>', 'annotate LoadBalancer Services as internal-only for this cloud').choices(['aws', 'gcp', 'azure'] as const))
    .addOption(new Option('--service-type <type>', 'turn LoadBalancer Services into this type').choices(['NodePort'] as const))
    .addOption(jsonOption());
}

export function serveCommandLine() {
  return new Command('serve')
    .description('serve images.tar.gz (or an OCI layout) as an OCI registry: pull by tag and digest, and with --writable take pushes')
    .argument('[source]', 'images.tar.gz, the directory holding it, or an OCI image layout directory (none: the store alone)')
    .option('--listen <host:port>', 'address to listen on (:PORT for every interface)', '127.0.0.1:5000')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; with --tls-key)')
    .option('--tls-key <file>', 'the certificate\'s private key (PEM)')
    .option('--writable', 'accept pushes (blob uploads, manifests) and deletes into the store', false)
    .option('--store <dir>', 'content-addressed directory the archive is unpacked into and pushes land in, reused across restarts (default: a temporary one)')
    .option('--htpasswd <file>', 'ask for a user: HTTP basic auth against this htpasswd file of bcrypt entries (htpasswd -B)')
    .option('--anonymous-pull', 'with --htpasswd: anyone may pull; pushes and deletes still need a user', false)
    .option('--insecure-auth', 'with --htpasswd: allow it over plain HTTP (passwords cross the network in clear)', false)
    .addOption(jsonOption('log one JSON object per line on stdout: where it serves, each request, push and delete'));
}

export function verifyCommandLine() {
  return new Command('verify')
    .description('check the carried files offline, before loading: every part and both archives against the lock, every blob against its digest; exit 1 naming what is damaged or missing')
    .argument('[dir]', 'the directory holding airgap-lock.json and the archives (or their parts)', '.')
    .addOption(jsonOption('print the report as JSON on stdout'));
}

/** `airgap cache prune`: the only subcommand of `cache` so far. */
export function cachePruneCommandLine() {
  return new Command('prune')
    .description('remove every cached blob no kept release needs (with no --keep-lock: all of them)')
    .addOption(listOption('--keep-lock <lock>', 'keep the blobs of the release of this airgap-lock.json (repeatable)'))
    .option('--cache <dir>', 'the cache (default: $XDG_CACHE_HOME/airgap or ~/.cache/airgap)')
    .option('--dry-run', 'say what would be removed, remove nothing', false)
    .addOption(jsonOption('print the result as JSON on stdout'));
}

export function checkCommandLine() {
  return withRegistryOptions(
    new Command('check')
      .description('say before deploying what will fail: registry (DNS, TLS trust, credentials, push), Juju (controller, model), Kubernetes (context, version, nodes, GPUs) and CoreDNS')
      .option('--registry <host[:port][/prefix]>', 'the private registry to check'),
    'private',
  )
    .option('--juju <path>', 'the juju executable (default: juju on PATH; not found is then only a warning)')
    .option('-m, --model <name>', 'the Juju model')
    .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option('-n, --namespace <name>', 'the namespace to check (default: the context\'s, else default)')
    .option('--gpus', 'require nvidia.com/gpu capacity and GPU node labels', false)
    .option('--containerd-config <dir>', 'a certs.d directory (airgap config containerd|microk8s -o DIR): does its hosts.toml name the registry and the CA it needs')
    .addOption(jsonOption('print the results as JSON on stdout'));
}

export function configCommandLine() {
  return new Command('config')
    .description('render the offline side\'s own configuration for the private registry from templates/: containerd or MicroK8s hosts.toml, SkyPilot, docker-registry, Juju bootstrap')
    .addArgument(new Argument('<kind>', 'what to configure').choices(CONFIG_KINDS))
    .requiredOption('--registry <host[:port][/prefix]>', 'the private registry')
    .option('-o, --output <file|dir>', 'write the file(s) there (containerd, microk8s: the certs.d directory); default: print them')
    .option('--force', 'replace files that exist with other content', false)
    .addOption(jsonOption('print the rendered files and notes as JSON'))
    .option('--ca-file <file>', 'containerd, microk8s: the registry\'s CA certificate, copied beside each hosts.toml')
    .addOption(listOption('--mirror-for <host>', 'containerd, microk8s: a public registry whose images are to come from the private one (repeatable), e.g. docker.io'))
    .option('--proxy <url>', 'skypilot: HTTP_PROXY and HTTPS_PROXY (both cases) in every SkyPilot pod')
    .addOption(noProxyOption('skypilot: NO_PROXY (both cases) likewise (default with --proxy: localhost,127.0.0.1,.svc,.cluster.local)'))
    .option('--pull-secret <name>', 'skypilot: the Secret with the registry credentials (airgap deploy --username creates airgap-registry)')
    .addOption(new Option('--ports <mode>', 'skypilot: how SkyPilot opens ports').choices(['podip', 'ingress', 'loadbalancer'] as const))
    .addOption(new Option('--internal-lb <cloud>', 'skypilot: make SkyPilot\'s LoadBalancer Services internal-only').choices(['aws', 'gcp', 'azure'] as const))
    .option('--tls-cert <file>', 'registry: the certificate (PEM) the registry serves')
    .option('--tls-key <file>', 'registry: its private key (PEM)')
    .option('--htpasswd <file>', 'registry: htpasswd file for basic auth (htpasswd -B)')
    .option('--storage <dir>', 'registry: where blobs are stored (default /var/lib/docker-registry)')
    .option('--listen <[ip]:port>', 'registry: the address to listen on (default :PORT of --registry, :443 without one)')
    .option('--juju-version <x.y.z>', 'juju: the Juju version whose images to list (juju version)')
    .addOption(listOption('--base <name@channel>', 'juju: a base the charms run on, for its charm-base image (repeatable), e.g. ubuntu@22.04'))
    .option('--cloud <name>', 'juju: the Kubernetes cloud to bootstrap (default microk8s)')
    .option('--controller <name>', 'juju: the controller name')
    .option('--username <user>', 'juju: the registry user (the script reads the password from AIRGAP_REGISTRY_PASSWORD)');
}

export function initCommandLine() {
  return new Command('init')
    .description('write an airgap.yaml release manifest for a Juju bundle, a Kubernetes manifest or an image list, marking what to check')
    .argument('[release]', 'a Juju bundle.yaml, a Kubernetes manifest or an image list (.txt)')
    .option('-o, --output <file>', 'the manifest to write (default: airgap.yaml beside the release file)')
    .option('--name <name>', 'the release name (default: the bundle\'s name:, else the directory\'s)')
    .option('--release-version <version>', 'the release version')
    .option('--placeholder <host[:port]>', 'the host that stands for the private registry (default: guessed from the references)')
    .option('--force', 'replace an existing file', false)
    .addOption(jsonOption('print a machine-readable summary'));
}

/** The options a command's action receives, as its declaration makes them. */
type OptionsOf<Declare extends () => { opts(): OptionValues }> = ReturnType<ReturnType<Declare>['opts']>;

export type CollectCommandOptions = OptionsOf<typeof collectCommandLine>;
export type LoadCommandOptions = OptionsOf<typeof loadCommandLine>;
export type DeployCommandOptions = OptionsOf<typeof deployCommandLine>;
export type ServeCommandOptions = OptionsOf<typeof serveCommandLine>;
export type CheckCommandOptions = OptionsOf<typeof checkCommandLine>;
export type VerifyCommandOptions = OptionsOf<typeof verifyCommandLine>;
export type CachePruneCommandOptions = OptionsOf<typeof cachePruneCommandLine>;
export type ConfigCommandOptions = OptionsOf<typeof configCommandLine>;
export type InitCommandOptions = OptionsOf<typeof initCommandLine>;
