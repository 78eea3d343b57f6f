/** The shapes a release becomes: what was found, where, and what the operator should know. */

/** One place where an image reference is written. */
export interface ImageMention {
  reference: string;
  /** Absolute path of the file it is written in. */
  file: string;
  /** Where in the file: `applications.istio-pilot.options.image-configuration`, `charms[0].resources.oci-image`,
   * `Deployment/web:spec.template.spec.containers[0].image`, `images[3]`. */
  yamlPath: string;
  line: number | undefined;
  /** Found inside a charm's own files: the application(s) deploying that charm. */
  applications?: string[];
}

export interface CharmSpec {
  name: string;
  /** A local path as written (relative to the release's baseDir), or an https URL. */
  charm: string;
  sha256: string | undefined;
  resources: Record<string, string>;
  config: Record<string, string | number | boolean>;
  file: string;
  line: number | undefined;
}

/**
 * An option airgap.yaml's `config:` sets on an application of the bundle: written into the air-gapped bundle
 * collect generates from a stock one, with the images in it on the placeholder (Knative's custom_images).
 */
export interface BundleOptionSetting {
  application: string;
  option: string;
  value: string | number | boolean;
  file: string;
  line: number | undefined;
}

export interface ReleaseWarning {
  message: string;
  file: string;
  yamlPath: string | undefined;
  line: number | undefined;
  reference: string | undefined;
}

export interface BundleCharm {
  application: string;
  /** As written in the bundle (`./dex-auth_fa9f1c6.charm`), relative to the bundle's directory. */
  charm: string;
  file: string;
  line: number | undefined;
}

/** A bundle application whose charm is a Charmhub name: collect downloads it with `juju download`. */
export interface CharmhubCharm {
  application: string;
  /** The Charmhub name (`ch:` dropped). */
  charm: string;
  channel: string | undefined;
  revision: number | undefined;
  /** `ubuntu@22.04`, from the application's base:/series: or the bundle's default-base:/series:. */
  base: string | undefined;
  file: string;
  line: number | undefined;
}

export type ReleaseKind = 'airgap' | 'bundle' | 'kubernetes' | 'image-list';

export interface Release {
  kind: ReleaseKind;
  /** Absolute path of the file given. */
  file: string;
  /** Its directory: relative paths in it are resolved against it. */
  baseDir: string;
  /** From airgap.yaml; for other kinds the file's basename without extension, and version ''. */
  name: string;
  version: string;
  placeholder: string | undefined;
  /** Path prefix -> registry (HOST[:PORT][/PREFIX]); '*' is the default. */
  upstream: Record<string, string>;
  /** Absolute path. */
  bundleFile: string | undefined;
  /** Bundle applications whose charm is a local file, to be packed. */
  bundleCharms: BundleCharm[];
  /** Bundle applications whose charm is a Charmhub name, to be downloaded. */
  charmhubCharms: CharmhubCharm[];
  /** airgap.yaml's extra charms, deployed one by one after the bundle. */
  charms: CharmSpec[];
  /** airgap.yaml's `config:`: options of the bundle's applications, set in the generated air-gapped bundle. */
  bundleOptions: BundleOptionSetting[];
  relations: string[][];
  /** Absolute paths, sorted. */
  manifestFiles: string[];
  platforms: string[];
  ignore: string[];
  /** Every image mention found, in file order, not deduplicated. */
  mentions: ImageMention[];
  warnings: ReleaseWarning[];
  /** Absolute paths of the release's own files to pack: the file given, the bundle, the manifests. */
  files: string[];
}

/** One image to pull: distinct by how it is written. */
export interface PlannedImage {
  written: string;
  /** Full canonical reference to pull from. */
  upstream: string;
  /** Where it lives under any registry. */
  path: string;
  mentions: ImageMention[];
  /** Added by collect rather than named by the release (Juju's own images): why it is carried. */
  reason?: string;
}
