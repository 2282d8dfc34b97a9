/**
 * Step 3, network: user networking, a host bridge, or a host NIC assigned through the IOMMU, chosen
 * from the `hostdev list` verdicts (a device that cannot be assigned is shown greyed with its reason).
 */
import { parseNetwork } from '../../request/request.js';
import { check, ctxOf, isPromptCancel, line, separator } from '../prompting.js';
import type { DeviceChoice, PromptChoice, WizardDeps } from '../types.js';

export interface NetworkAnswer {
  network: string;
  hostdev?: string[];
  device?: DeviceChoice;
  description: string;
}

/** Why a device is greyed (its blocking reasons) or what to mind (its warnings), in one line. */
export function reasonText(d: DeviceChoice): string {
  const wanted = d.verdict === 'not-assignable' ? 'block' : 'warn';
  return d.reasons
    .filter((r) => r.severity === wanted)
    .map((r) => r.message)
    .join('; ');
}

/**
 * One entry of the device list: greyed with its `hostdev list` reason when not assignable, the
 * warnings shown when assignable with warnings.
 */
export function deviceChoice(d: DeviceChoice): PromptChoice<string> {
  const why = reasonText(d) || 'see install-guest hostdev show ' + d.address;
  if (d.verdict === 'not-assignable')
    return { value: d.address, name: d.label, disabled: `(not assignable: ${why})` };
  if (d.verdict === 'warnings')
    return {
      value: d.address,
      name: `${d.label}  (warning: ${why})`,
      short: d.address,
      description: `${d.className}; assignable with warnings: ${why}`,
    };
  return { value: d.address, name: d.label, short: d.address, description: `${d.className}; assignable` };
}

const BACK = '\u0000back';

export async function askNetwork(deps: WizardDeps): Promise<NetworkAnswer> {
  const p = deps.prompts;
  const init = deps.initial ?? {};
  let devices: DeviceChoice[] = [];
  let listError: string | undefined;
  try {
    devices = await deps.listDevices();
  } catch (e) {
    if (isPromptCancel(e)) throw e;
    listError = e instanceof Error ? e.message : String(e);
  }
  let kind: 'user' | 'bridge' | 'hostdev' = init.hostdev?.length
    ? 'hostdev'
    : init.network?.startsWith('bridge=')
      ? 'bridge'
      : 'user';
  for (;;) {
    const hostdevDisabled = listError
      ? `(cannot list the host's devices: ${listError})`
      : devices.length === 0
        ? '(this host shows no PCI network device)'
        : false;
    kind = await p.select<'user' | 'bridge' | 'hostdev'>(
      {
        message: 'Network',
        default: hostdevDisabled && kind === 'hostdev' ? 'user' : kind,
        choices: [
          { value: 'user', name: 'User networking (NAT inside qemu; no host setup)' },
          { value: 'bridge', name: 'A host bridge (--network bridge=NAME)' },
          {
            value: 'hostdev',
            name: 'Assign a physical device (a host NIC, through the IOMMU)',
            disabled: hostdevDisabled,
          },
        ],
      },
      ctxOf(deps),
    );
    if (kind === 'user') return { network: 'user', description: 'user networking' };
    if (kind === 'bridge') {
      const initBridge = init.network?.startsWith('bridge=')
        ? init.network.slice(7).split(',')[0]
        : undefined;
      const bridge = await p.input(
        {
          message: 'Bridge name',
          default: initBridge ?? 'br0',
          validate: (v) =>
            v.includes(',') || v.includes('=')
              ? `'${v}' is not an interface name`
              : check(() => parseNetwork(`bridge=${v}`)),
        },
        ctxOf(deps),
      );
      return { network: `bridge=${bridge}`, description: `bridge ${bridge}` };
    }
    const usable = devices.filter((d) => d.verdict !== 'not-assignable');
    if (usable.length === 0)
      line(deps, '  no network device on this host can be assigned; the reasons are shown greyed');
    const address = await p.select<string>(
      {
        message: 'Device to assign',
        pageSize: 12,
        loop: false,
        ...(init.hostdev?.[0] && usable.some((d) => d.address === init.hostdev![0])
          ? { default: init.hostdev[0] }
          : {}),
        choices: [
          ...devices.map(deviceChoice),
          separator(),
          { value: BACK, name: '← Back to the network choices' },
        ],
      },
      ctxOf(deps),
    );
    if (address === BACK) continue;
    const device = devices.find((d) => d.address === address)!;
    if (device.verdict === 'warnings') line(deps, `  warning: ${reasonText(device)}`);
    const alsoUser = await p.confirm(
      {
        message: 'Also give the guest user networking (the installer can download through it)?',
        default: true,
      },
      ctxOf(deps),
    );
    return {
      network: alsoUser ? 'user' : 'none',
      hostdev: [device.address],
      device,
      description: `assign ${device.label}${alsoUser ? '; user networking as well' : '; no other network'}`,
    };
  }
}
