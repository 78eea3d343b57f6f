/**
 * Hostile YAML, generated: the alias bomb of issue 16 (a Kubernetes List whose items are aliases of Lists
 * of aliases, ten per level, nine levels: under a kilobyte, a billion pods once expanded), and large files
 * that use aliases throughout, for the tests of the YAML reader's limits and of Ctrl-C during a scan.
 */

/** A Kubernetes List that stands for 10^levels Pods. */
export function aliasBomb(levels = 9, fanOut = 10): string {
  const lines = [
    'apiVersion: v1',
    'kind: List',
    'pod: &l0 {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: c, image: "busybox:1.28"}]}}',
  ];
  for (let level = 1; level < levels; level++) {
    lines.push(`l${level}: &l${level} {apiVersion: v1, kind: List, items: [${Array.from({ length: fanOut }, () => `*l${level - 1}`).join(',')}]}`);
  }
  lines.push(`items: [${Array.from({ length: fanOut }, () => `*l${levels - 1}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}

/**
 * `documents` Deployments, each sharing its environment between two containers through an anchor and
 * aliases, each about a kilobyte: a large file that is legitimate on its own.
 */
export function aliasHeavyManifests(documents: number): string {
  const parts: string[] = [];
  for (let i = 0; i < documents; i++) {
    parts.push(
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        `metadata: {name: web-${i}, labels: &labels {app: web-${i}, tier: front, team: shop, release: r${i % 7}}}`,
        'spec:',
        '  selector: {matchLabels: *labels}',
        '  template:',
        '    metadata: {labels: *labels}',
        '    spec:',
        '      containers:',
        `        - name: app`,
        `          image: registry.example:5000/shop/web:${i % 13}.0`,
        '          env: &env',
        ...Array.from({ length: 8 }, (_, k) => `            - {name: SETTING_${k}, value: "value number ${k} of deployment ${i}, long enough to look real"}`),
        '        - name: sidecar',
        '          image: registry.example:5000/shop/proxy:1.0',
        '          env: *env',
      ].join('\n'),
    );
  }
  return `${parts.join('\n---\n')}\n`;
}
