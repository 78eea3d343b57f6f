import { describe, expect, it } from 'vitest';
import { rolloutStatus } from '../../src/kube/rollout.ts';
import { isBackOffMessage, pullFailureHint, pullFailures } from '../../src/kube/pod-status.ts';

describe('rolloutStatus, by kubectl rollout status rules', () => {
  it('Deployment', () => {
    const d = (generation: number, status: object, replicas = 2): object => ({ metadata: { generation }, spec: { replicas }, status });
    expect(rolloutStatus('Deployment', 'web', d(2, { observedGeneration: 1 }))).toEqual({ done: false, message: 'Waiting for deployment spec update to be observed...' });
    expect(rolloutStatus('Deployment', 'web', d(1, { observedGeneration: 1, updatedReplicas: 1 })).message).toBe('Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...');
    expect(rolloutStatus('Deployment', 'web', d(1, { observedGeneration: 1, replicas: 3, updatedReplicas: 2 })).message).toBe('Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...');
    expect(rolloutStatus('Deployment', 'web', d(1, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1 })).message).toBe('Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...');
    expect(rolloutStatus('Deployment', 'web', d(1, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }))).toEqual({ done: true, message: 'deployment "web" successfully rolled out' });
    expect(rolloutStatus('Deployment', 'web', d(1, { observedGeneration: 1, conditions: [{ type: 'Progressing', reason: 'ProgressDeadlineExceeded' }] })).failed).toBe(true);
  });

  it('StatefulSet', () => {
    const s = (status: object, updateStrategy: object = { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }): object => ({ metadata: { generation: 1 }, spec: { replicas: 2, updateStrategy }, status });
    expect(rolloutStatus('StatefulSet', 'db', s({})).message).toBe('Waiting for statefulset spec update to be observed...');
    expect(rolloutStatus('StatefulSet', 'db', s({ observedGeneration: 1, readyReplicas: 1 })).message).toBe('Waiting for 1 pods to be ready...');
    expect(rolloutStatus('StatefulSet', 'db', s({ observedGeneration: 1, readyReplicas: 2, updatedReplicas: 1 }, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } })).message).toBe('Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...');
    expect(rolloutStatus('StatefulSet', 'db', s({ observedGeneration: 1, readyReplicas: 2, updatedReplicas: 2 })).done).toBe(true);
    expect(rolloutStatus('StatefulSet', 'db', s({ observedGeneration: 1, readyReplicas: 2, currentRevision: 'a', updateRevision: 'b' }, { type: 'RollingUpdate' })).done).toBe(false);
    expect(rolloutStatus('StatefulSet', 'db', s({}, { type: 'OnDelete' })).done).toBe(true);
  });

  it('DaemonSet', () => {
    const ds = (status: object): object => ({ metadata: { generation: 1 }, spec: { updateStrategy: { type: 'RollingUpdate' } }, status });
    expect(rolloutStatus('DaemonSet', 'agent', ds({ observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 2 })).message).toBe('Waiting for daemon set "agent" rollout to finish: 2 out of 3 new pods have been updated...');
    expect(rolloutStatus('DaemonSet', 'agent', ds({ observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 1 })).message).toBe('Waiting for daemon set "agent" rollout to finish: 1 of 3 updated pods are available...');
    expect(rolloutStatus('DaemonSet', 'agent', ds({ observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 })).done).toBe(true);
  });
});

describe('pull failures', () => {
  const pod = {
    metadata: { name: 'web-1', namespace: 'shop' },
    spec: { initContainers: [{ name: 'init', image: 'reg:5000/init:1' }], containers: [{ name: 'web', image: 'reg:5000/web:1' }, { name: 'ok', image: 'reg:5000/ok:1' }] },
    status: {
      initContainerStatuses: [{ name: 'init', image: '', state: { waiting: { reason: 'ErrImagePull', message: 'rpc error: failed to resolve reference "reg:5000/init:1": unexpected status 401 Unauthorized' } } }],
      containerStatuses: [
        { name: 'web', image: 'reg:5000/web:1', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "reg:5000/web:1"' } } },
        { name: 'ok', image: 'reg:5000/ok:1', state: { waiting: { reason: 'PodInitializing' } } },
      ],
    },
  };

  it('reads ErrImagePull and ImagePullBackOff from init and app containers, with image and message', () => {
    expect(pullFailures(pod)).toEqual([
      { namespace: 'shop', pod: 'web-1', container: 'init', image: 'reg:5000/init:1', reason: 'ErrImagePull', message: 'rpc error: failed to resolve reference "reg:5000/init:1": unexpected status 401 Unauthorized' },
      { namespace: 'shop', pod: 'web-1', container: 'web', image: 'reg:5000/web:1', reason: 'ImagePullBackOff', message: 'Back-off pulling image "reg:5000/web:1"' },
    ]);
    expect(isBackOffMessage('Back-off pulling image "x"')).toBe(true);
  });

  it('says what a pull error usually means', () => {
    const hint = (message: string): string | undefined => pullFailureHint({ namespace: 'n', pod: 'p', container: 'c', image: 'reg:5000/a:1', reason: 'ErrImagePull', message });
    expect(hint('x509: certificate signed by unknown authority')).toContain('/etc/containerd/certs.d/reg:5000/ca.crt');
    expect(hint('unexpected status 401 Unauthorized')).toContain('--username');
    expect(hint('reg:5000/a:1: not found')).toContain('airgap load');
    expect(hint('dial tcp 10.0.0.1:5000: i/o timeout')).toContain('cannot reach reg:5000');
    expect(hint('http: server gave HTTP response to HTTPS client')).toContain('plain HTTP');
  });
});
