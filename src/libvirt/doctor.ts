/**
 * `doctor --connect URI`: what install-guest needs from a libvirt host, asked through the
 * connection: the hypervisor answers, which domain types it offers for x86_64 (kvm, or only qemu:
 * TCG), whether its nodedev inventory shows IOMMU groups and an assignable NIC, and a storage pool
 * for the guest's disk. Facts are gathered through virsh; the checks are a pure function of them.
 */
import type { Check } from '../pci/doctor.js';
import type { Host } from '../host/host.js';
import { redactUri, type LibvirtConnection } from './connection.js';
import { parseXml, children, child } from './xml.js';

export interface LibvirtDoctorFacts {
  uri: string;
  local: boolean;
  hypervisor: string;
  /** domain types offered for x86_64 hvm guests (`kvm`, `qemu`) */
  domainTypes: string[];
  iommuGroups: number;
  nics: { address: string; verdict: string; codes: string[] }[];
  unknownGuards: string[] | null;
  pools: { name: string; active: boolean }[];
}

/** The domain types `virsh capabilities` offers for x86_64 hvm guests. Pure. */
export function x86DomainTypes(capabilitiesXml: string): string[] {
  const caps = parseXml(capabilitiesXml);
  const out = new Set<string>();
  for (const g of children(caps, 'guest')) {
    if (child(g, 'os_type')?.text.trim() !== 'hvm') continue;
    for (const a of children(g, 'arch')) {
      if (a.attrs.name !== 'x86_64') continue;
      for (const d of children(a, 'domain')) if (d.attrs.type) out.add(d.attrs.type);
    }
  }
  return [...out].sort();
}

/** `virsh pool-list --all` (no header with -q) → names and states. Pure. */
export function parsePoolList(text: string): { name: string; active: boolean }[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 2 && f[0] !== '')
    .map((f) => ({ name: f[0]!, active: f[1] === 'active' }));
}

export async function gatherLibvirtDoctorFacts(
  conn: LibvirtConnection,
  host: Host,
): Promise<LibvirtDoctorFacts> {
  const [{ listLibvirtDevices }, { assessAll }] = await Promise.all([
    import('./nodedev.js'),
    import('../pci/assignability.js'),
  ]);
  const [hypervisor, capsXml, inv, pools] = await Promise.all([
    conn.check(),
    conn.virsh(['capabilities']),
    listLibvirtDevices(conn, host),
    conn.virsh(['pool-list', '--all']),
  ]);
  const verdicts = assessAll(inv);
  return {
    uri: redactUri(conn.uri),
    local: conn.local,
    hypervisor,
    domainTypes: x86DomainTypes(capsXml),
    iommuGroups: inv.iommu.groupCount,
    nics: inv.devices
      .filter((d) => d.classKind === 'net')
      .map((d) => {
        const a = verdicts.get(d.address)!;
        return {
          address: d.address,
          verdict: a.verdict,
          codes: a.reasons.filter((r) => r.severity !== 'info').map((r) => r.code),
        };
      }),
    unknownGuards: inv.unknownGuards?.facts ?? null,
    pools: parsePoolList(pools),
  };
}

/** The checks (pure). */
export function evaluateLibvirtDoctor(f: LibvirtDoctorFacts): Check[] {
  const checks: Check[] = [
    {
      id: 'libvirt-connection',
      status: 'PASS',
      message: `${f.uri} answers (${f.hypervisor})${f.local ? ', this host' : ''}`,
      evidence: [`virsh -c ${f.uri} version`],
    },
  ];
  checks.push(
    f.domainTypes.includes('kvm')
      ? {
          id: 'libvirt-domain-type',
          status: 'PASS',
          message: 'libvirt offers kvm domains for x86_64',
          evidence: [`x86_64 domain types: ${f.domainTypes.join(' ')}`],
        }
      : f.domainTypes.includes('qemu')
        ? {
            id: 'libvirt-domain-type',
            status: 'WARN',
            message: 'libvirt offers only qemu (TCG) domains for x86_64: guests run emulated, slowly',
            hint: 'enable hardware virtualization on that host (kvm_intel/kvm_amd) for kvm domains',
            evidence: [`x86_64 domain types: ${f.domainTypes.join(' ')}`],
          }
        : {
            id: 'libvirt-domain-type',
            status: 'FAIL',
            message: 'libvirt offers no x86_64 hvm domains',
            hint: "install the host's qemu-system-x86 and restart libvirtd",
            evidence: ['virsh capabilities: no <guest> for x86_64 hvm'],
          },
  );
  checks.push(
    f.iommuGroups > 0
      ? {
          id: 'libvirt-iommu',
          status: 'PASS',
          message: `libvirt's node devices are in ${f.iommuGroups} IOMMU groups`,
          evidence: ['nodedev-dumpxml: <iommuGroup>'],
        }
      : {
          id: 'libvirt-iommu',
          status: 'FAIL',
          message: 'no node device is in an IOMMU group: that host cannot assign devices',
          hint: 'enable VT-d/AMD-Vi in the firmware and intel_iommu=on (or amd_iommu=on) on its kernel command line',
          evidence: ['nodedev-dumpxml: no <iommuGroup>'],
        },
  );
  const ok = f.nics.filter((n) => n.verdict !== 'not-assignable');
  checks.push({
    id: 'libvirt-nics',
    status: ok.length ? 'PASS' : 'WARN',
    message: ok.length
      ? `${ok.length} of ${f.nics.length} network function(s) can be assigned: ${ok.map((n) => n.address).join(' ')}`
      : `none of the ${f.nics.length} network function(s) can be assigned${f.unknownGuards ? ` (unknown over libvirt: ${f.unknownGuards.join(', ')})` : ''}`,
    ...(ok.length
      ? {}
      : {
          hint: f.unknownGuards
            ? "name the device and pass --force once you know it does not carry that host's default route"
            : 'see install-guest hostdev list --connect URI',
        }),
    evidence: f.nics.map(
      (n) => `${n.address}: ${n.verdict}${n.codes.length ? ` (${n.codes.join(',')})` : ''}`,
    ),
  });
  const active = f.pools.filter((p) => p.active);
  checks.push(
    active.length
      ? {
          id: 'libvirt-pool',
          status: 'PASS',
          message: `storage pools for the guest disk: ${active.map((p) => p.name).join(' ')}`,
          evidence: ['virsh pool-list'],
        }
      : {
          id: 'libvirt-pool',
          status: 'WARN',
          message: 'no active storage pool: install creates the default one (/var/lib/libvirt/images)',
          evidence: [`virsh pool-list --all: ${f.pools.map((p) => p.name).join(' ') || 'none'}`],
        },
  );
  return checks;
}
