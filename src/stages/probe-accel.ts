import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import { hostError } from '../errors.js';

/** `--accel auto` → kvm when /dev/kvm is usable, else tcg with a one-line warning. */
export const probeAccel: Stage<InstallState> = {
  name: 'probe-accel',
  changesHost: false,
  async run({ state, host, log }) {
    const wanted = state.request!.accel;
    const kvm = await host.canReadWrite('/dev/kvm');
    if (wanted === 'kvm' && !kvm) {
      throw hostError('KVM_UNAVAILABLE', '--accel kvm was asked for, but /dev/kvm is missing or not usable', {
        hint: 'load kvm_intel/kvm_amd and check permissions on /dev/kvm, or use --accel tcg (slow software emulation)',
      });
    }
    const accel = wanted === 'auto' ? (kvm ? 'kvm' : 'tcg') : wanted;
    if (wanted === 'auto' && !kvm)
      log.warn('warning: /dev/kvm is not usable: using tcg software emulation (much slower)');
    return { accel };
  },
};
