/**
 * The wizard's providers: the very functions the `hostdev list`, `media inspect` and `kickstart lint`
 * commands run, so the wizard shows the same devices with the same reasons, the same media facts and
 * the same findings. Only the shaping into the wizard's types is here (pure functions).
 */
import type { Host } from '../host/host.js';
import type { InspectReport } from '../media/inspect.js';
import { describeCandidate } from '../pci/hostdev-spec.js';
import type { ListJson } from '../pci/render.js';
import type { DeviceChoice, MediaFacts, WizardDeps } from './types.js';

/** The network functions of a `hostdev list --json` listing, as choices with their verdicts (pure). */
export function deviceChoices(listing: ListJson): DeviceChoice[] {
  return listing.devices
    .filter((d) => d.classKind === 'net')
    .map((d) => {
      const mac = d.net.find((n) => n.mac)?.mac;
      return {
        address: d.address,
        label: describeCandidate(d),
        className: d.className,
        verdict: d.verdict,
        reasons: d.reasons
          .filter((r) => r.severity !== 'info')
          .map(({ code, severity, message }) => ({ code, severity, message })),
        ...(mac ? { mac } : {}),
      };
    });
}

/** What the media step shows and uses from a `media inspect` report (pure). */
export function mediaFacts(report: InspectReport, lines: string[]): MediaFacts {
  const d = report.detection;
  return { name: d.name, family: d.family, version: d.version, arch: d.arch, lines };
}

/** The providers the install command gives the wizard, reading the host through `host`. */
export function defaultProviders(
  host: Host,
  env: { cwd: string; env: Readonly<Record<string, string | undefined>>; signal?: AbortSignal },
): Pick<WizardDeps, 'listDevices' | 'inspectMedia' | 'lintKickstart'> {
  return {
    async listDevices() {
      const [{ readListing }, { listJson }] = await Promise.all([
        import('../pci/listing.js'),
        import('../pci/render.js'),
      ]);
      const { inventory, assessments } = await readListing(host);
      return deviceChoices(listJson(inventory, assessments, 'net'));
    },
    async inspectMedia(location) {
      const [{ inspectMedia }, { formatInspect }] = await Promise.all([
        import('../media/inspect-media.js'),
        import('../media/inspect.js'),
      ]);
      const report = await inspectMedia(location, {
        cwd: env.cwd,
        env: env.env,
        ...(env.signal ? { signal: env.signal } : {}),
      });
      return mediaFacts(report, formatInspect(report));
    },
    async lintKickstart(file, options) {
      const { lintFile } = await import('../kickstart/lint-file.js');
      // as the install lints it: no display, and the assigned NIC is the one to configure
      const { findings } = await lintFile(file, {
        headless: true,
        ...(options.assignedNic ? { assignedNic: options.assignedNic } : {}),
      });
      return findings;
    },
  };
}
