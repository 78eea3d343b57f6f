import { Argument, Command, CommanderError, Option } from 'commander';
import type { CheckCommandOptions } from './commands/check.ts';
import type { CollectCommandOptions } from './commands/collect.ts';
import type { ConfigCommandOptions } from './commands/config.ts';
import type { DeployCommandOptions } from './commands/deploy.ts';
import type { InitCommandOptions } from './commands/init.ts';
import type { CommandIo } from './commands/io.ts';
import type { LoadCommandOptions } from './commands/load.ts';
import type { ServeCommandOptions } from './commands/serve.ts';
import { CONFIG_KINDS, type ConfigKind } from './config/kinds.ts';
import { EXIT_CANCELLED, EXIT_USAGE, exitCodeFor, formatFailure } from './cli/errors.ts';
import { parseByteSize } from './cli/byte-size.ts';
import { CancelledError, UsageError } from './errors.ts';
import { terminalSafe } from './util/printable.ts';
import { VERSION_TEXT } from './version.ts';

function repeatable(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** commander reads `--no-X` as "not --X"; `--no-proxy LIST` is the NO_PROXY variable, not the absence of --proxy. */
function notNegated(option: Option): Option {
  option.negate = false;
  return option;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--concurrency ${value}: expected a whole number from 1 to 64`);
  return n;
}

/**
 * The whole program: argv in, exit code out. Only this file's caller touches process.exit. Each command's
 * module is imported when that command runs: `airgap load` does not pay at every start for serve, check or
 * config (a third of the start-up time of a short command).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(EXIT_CANCELLED);
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping and removing partial files (Ctrl-C again to quit at once)\n');
    controller.abort(new CancelledError('interrupted: nothing was left under a final name; re-run to finish the job'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // The output boundary: whatever a command prints, no control character from outside reaches the terminal.
  const io: CommandIo = {
    stdout: (text) => process.stdout.write(terminalSafe(text)),
    stderr: (text) => process.stderr.write(terminalSafe(text)),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    isTty: process.stderr.isTTY === true,
    signal: controller.signal,
  };
  const program = new Command()
    .name('airgap')
    .description('Carry a software release (images, charms, manifests) into an air-gapped network and install it there')
    .version(VERSION_TEXT, '-V, --version')
    .option('--debug', 'show stack traces on failure')
    .exitOverride()
    .showSuggestionAfterError(true);

  program
    .command('collect')
    .description('scan a release and pull every image into one deduplicated images.tar.gz, charms into charms.tar.gz, and write airgap-lock.json')
    .argument('[release]', 'airgap.yaml, a Juju bundle.yaml, a Kubernetes manifest or an image list (.txt)', 'airgap.yaml')
    .option('-o, --output <dir>', 'directory for images.tar.gz, charms.tar.gz and airgap-lock.json', '.')
    .option('--platform <os/arch[/variant]>', 'keep only this platform of multi-arch images (repeatable); default: all', repeatable, [])
    .addOption(new Option('-j, --concurrency <n>', 'images resolved at once').argParser(positiveInteger).default(4))
    .option('--ca-file <file>', 'extra CA certificate(s) to trust for registries (repeatable)', repeatable, [])
    .option('--plain-http <host[:port]>', 'talk plain HTTP to this registry (repeatable)', repeatable, [])
    .option('--per-image', 'write one docker-loadable <name>.tar per image inside images.tar.gz (the guide\'s layout)', false)
    .option('--include-tool', 'put the airgap executable (built by `npm run package`) into charms.tar.gz, recorded in the lock', false)
    .option('--tool-platform <linux-x64|linux-arm64>', 'with --include-tool: only this platform\'s executable (repeatable); default: every one built', repeatable, [])
    .option('--list', 'download the charms and show every image with where it is found and every charm; pull nothing, write nothing', false)
    .option('--mirror <registry=mirror[/prefix]>', 'pull REGISTRY\'s images from this mirror or pull-through cache (repeatable); /etc/containers/registries.conf mirrors apply too', repeatable, [])
    .option('--charmhub-url <url>', 'the Charmhub a stock bundle\'s charms are downloaded from (passed to juju download)')
    .option('--juju <path>', 'the juju executable that downloads a stock bundle\'s charms (default: juju on PATH)')
    .option('--allow-outside', 'pack local charm files from outside the release\'s directory too', false)
    .option('--username <user>', 'user for the registry the release pulls from (with --password-stdin); otherwise ~/.docker/config.json')
    .option('--password-stdin', 'read that registry\'s password from standard input', false)
    .option('--json', 'print a machine-readable summary on stdout', false)
    .action(async (release: string, options: CollectCommandOptions) => {
      const { collectCommand } = await import('./commands/collect.ts');
      await collectCommand(release, options, io);
    });

  program
    .command('load')
    .description('push every image of images.tar.gz into a private registry, digests unchanged; safe to re-run')
    .argument('[source]', 'the directory holding images.tar.gz (and airgap-lock.json, charms.tar.gz), or the archive', '.')
    .requiredOption('--registry <host[:port][/prefix]>', 'the private registry the images go to')
    .option('--ca-file <file>', 'extra CA certificate(s) to trust for the registry (repeatable)', repeatable, [])
    .option('--plain-http <host[:port]>', 'talk plain HTTP to this registry (repeatable)', repeatable, [])
    .option('--username <user>', 'registry user (with --password-stdin); otherwise ~/.docker/config.json')
    .option('--password-stdin', 'read the registry password from standard input', false)
    .addOption(new Option('-j, --concurrency <n>', 'registry requests at once').argParser(positiveInteger).default(4))
    .addOption(new Option('--via <path>', 'push through the registry API, or through the local Docker Engine').choices(['registry', 'docker']).default('registry'))
    .option('--charms-dir <dir>', 'where charms.tar.gz is unpacked when it is beside the images', './charms')
    .option('--no-lock', 'load an archive that has no airgap-lock.json beside it (only blob digests are then checked)')
    .addOption(new Option('--chunk-size <size>', 'largest upload request, e.g. 8MiB, for a proxy that limits request bodies (default 32MiB)').argParser((v: string) => parseByteSize('--chunk-size', v)))
    .option('--json', 'print a machine-readable summary on stdout', false)
    .action(async (source: string, options: LoadCommandOptions) => {
      const { loadCommand } = await import('./commands/load.ts');
      await loadCommand(source, options, io);
    });

  program
    .command('deploy')
    .description('rewrite the placeholder registry in a bundle, prove every image is in the registry, deploy bundle, charms and relations, and wait until active')
    .argument('[target]', 'a Juju bundle.yaml, a Kubernetes manifest or an airgap.yaml', 'airgap.yaml')
    .requiredOption('--registry <host[:port][/prefix]>', 'the private registry the images were loaded into')
    .option('--placeholder <host[:port]>', 'the registry host written in the bundle (default: from airgap.yaml or airgap-lock.json)')
    .option('-o, --output <file>', 'the rewritten bundle (default: <bundle>.airgap.yaml beside it)')
    .option('--lock <file>', 'airgap-lock.json (default: beside the target, or in the current directory)')
    .option('--charms-dir <dir>', 'where airgap load unpacked the charms', './charms')
    .option('--ca-file <file>', 'extra CA certificate(s) to trust for the registry (repeatable)', repeatable, [])
    .option('--plain-http <host[:port]>', 'talk plain HTTP to this registry (repeatable)', repeatable, [])
    .option('--username <user>', 'registry user (with --password-stdin); otherwise ~/.docker/config.json')
    .option('--password-stdin', 'read the registry password from standard input', false)
    .option('--dry-run', 'print the rewritten references and every action; change nothing, Juju included', false)
    .option('--strict', 'fail when a reference points at a registry the cluster cannot reach', false)
    .option('-m, --model <name>', 'the Juju model')
    .option('--set <app.option=value>', 'set a charm option (repeatable), e.g. istio-ingressgateway.gateway_service_type=LoadBalancer', repeatable, [])
    .option('--timeout <duration>', 'how long to wait for every application to be active, and for the manifests\' rollouts', '30m')
    .option('--poll-interval <duration>', 'how often to ask Juju for the model\'s status (default 5s) and Kubernetes for the rollouts (default 2s)')
    .option('--juju <path>', 'the juju executable (default: juju on PATH)')
    .option('--kubeconfig <file>', 'kubeconfig for the Kubernetes manifests (default: KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option('-n, --namespace <name>', 'namespace of objects that name none (default: the context\'s, else default)')
    .option('--proxy <url>', 'set HTTP_PROXY and HTTPS_PROXY (both cases) in every container of the manifests\' workloads')
    .addOption(notNegated(new Option('--no-proxy <list>', 'set NO_PROXY (both cases) likewise (default with --proxy: localhost,127.0.0.1,.svc,.cluster.local)')))
    .addOption(new Option('--internal-services <cloud>', 'annotate LoadBalancer Services as internal-only for this cloud').choices(['aws', 'gcp', 'azure']))
    .addOption(new Option('--service-type <type>', 'turn LoadBalancer Services into this type').choices(['NodePort']))
    .option('--json', 'print a machine-readable summary on stdout', false)
    .action(async (target: string, options: DeployCommandOptions) => {
      const { deployCommand } = await import('./commands/deploy.ts');
      await deployCommand(target, options, io);
    });

  program
    .command('serve')
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
    .action(async (source: string | undefined, options: ServeCommandOptions) => {
      const { serveCommand } = await import('./commands/serve.ts');
      await serveCommand(source, options, io);
    });

  program
    .command('check')
    .description('say before deploying what will fail: registry (DNS, TLS trust, credentials, push), Juju (controller, model), Kubernetes (context, version, nodes, GPUs) and CoreDNS')
    .option('--registry <host[:port][/prefix]>', 'the private registry to check')
    .option('--ca-file <file>', 'extra CA certificate(s) to trust for the registry (repeatable)', repeatable, [])
    .option('--plain-http <host[:port]>', 'talk plain HTTP to this registry (repeatable)', repeatable, [])
    .option('--username <user>', 'registry user (with --password-stdin); otherwise ~/.docker/config.json')
    .option('--password-stdin', 'read the registry password from standard input', false)
    .option('--juju <path>', 'the juju executable (default: juju on PATH; not found is then only a warning)')
    .option('-m, --model <name>', 'the Juju model')
    .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option('-n, --namespace <name>', 'the namespace to check (default: the context\'s, else default)')
    .option('--gpus', 'require nvidia.com/gpu capacity and GPU node labels', false)
    .option('--containerd-config <dir>', 'a certs.d directory (airgap config containerd|microk8s -o DIR): does its hosts.toml name the registry and the CA it needs')
    .option('--json', 'print the results as JSON on stdout', false)
    .action(async (options: CheckCommandOptions) => {
      const { checkCommand } = await import('./commands/check.ts');
      await checkCommand(options, io);
    });

  program
    .command('config')
    .description('render the offline side\'s own configuration for the private registry from templates/: containerd or MicroK8s hosts.toml, SkyPilot, docker-registry, Juju bootstrap')
    .addArgument(new Argument('<kind>', 'what to configure').choices(CONFIG_KINDS))
    .requiredOption('--registry <host[:port][/prefix]>', 'the private registry')
    .option('-o, --output <file|dir>', 'write the file(s) there (containerd, microk8s: the certs.d directory); default: print them')
    .option('--force', 'replace files that exist with other content', false)
    .option('--json', 'print the rendered files and notes as JSON', false)
    .option('--ca-file <file>', 'containerd, microk8s: the registry\'s CA certificate, copied beside each hosts.toml')
    .option('--mirror-for <host>', 'containerd, microk8s: a public registry whose images are to come from the private one (repeatable), e.g. docker.io', repeatable, [])
    .option('--proxy <url>', 'skypilot: HTTP_PROXY and HTTPS_PROXY (both cases) in every SkyPilot pod')
    .addOption(notNegated(new Option('--no-proxy <list>', 'skypilot: NO_PROXY (both cases) likewise (default with --proxy: localhost,127.0.0.1,.svc,.cluster.local)')))
    .option('--pull-secret <name>', 'skypilot: the Secret with the registry credentials (airgap deploy --username creates airgap-registry)')
    .addOption(new Option('--ports <mode>', 'skypilot: how SkyPilot opens ports').choices(['podip', 'ingress', 'loadbalancer']))
    .addOption(new Option('--internal-lb <cloud>', 'skypilot: make SkyPilot\'s LoadBalancer Services internal-only').choices(['aws', 'gcp', 'azure']))
    .option('--tls-cert <file>', 'registry: the certificate (PEM) the registry serves')
    .option('--tls-key <file>', 'registry: its private key (PEM)')
    .option('--htpasswd <file>', 'registry: htpasswd file for basic auth (htpasswd -B)')
    .option('--storage <dir>', 'registry: where blobs are stored (default /var/lib/docker-registry)')
    .option('--listen <[ip]:port>', 'registry: the address to listen on (default :PORT of --registry, :443 without one)')
    .option('--juju-version <x.y.z>', 'juju: the Juju version whose images to list (juju version)')
    .option('--base <name@channel>', 'juju: a base the charms run on, for its charm-base image (repeatable), e.g. ubuntu@22.04', repeatable, [])
    .option('--cloud <name>', 'juju: the Kubernetes cloud to bootstrap (default microk8s)')
    .option('--controller <name>', 'juju: the controller name')
    .option('--username <user>', 'juju: the registry user (the script reads the password from AIRGAP_REGISTRY_PASSWORD)')
    .action(async (kind: ConfigKind, options: ConfigCommandOptions) => {
      const { configCommand } = await import('./commands/config.ts');
      await configCommand(kind, options, io);
    });

  program
    .command('init')
    .description('write an airgap.yaml release manifest for a Juju bundle, a Kubernetes manifest or an image list, marking what to check')
    .argument('[release]', 'a Juju bundle.yaml, a Kubernetes manifest or an image list (.txt)')
    .option('-o, --output <file>', 'the manifest to write (default: airgap.yaml beside the release file)')
    .option('--name <name>', 'the release name (default: the bundle\'s name:, else the directory\'s)')
    .option('--release-version <version>', 'the release version')
    .option('--placeholder <host[:port]>', 'the host that stands for the private registry (default: guessed from the references)')
    .option('--force', 'replace an existing file', false)
    .option('--json', 'print a machine-readable summary', false)
    .action(async (release: string | undefined, options: InitCommandOptions) => {
      const { initCommand } = await import('./commands/init.ts');
      await initCommand(release, options, io);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err: unknown) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander's exitOverride; they already printed.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return EXIT_USAGE;
    }
    const debug = program.opts<{ debug?: boolean }>().debug === true;
    const failure = controller.signal.aborted && !(err instanceof UsageError) ? controller.signal.reason : err;
    process.stderr.write(`${formatFailure(failure, debug)}\n`);
    return exitCodeFor(failure);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
