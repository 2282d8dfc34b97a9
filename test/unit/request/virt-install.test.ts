/**
 * virt-install's grammar in the install request: the kickstart idiom, kernel-argument merging,
 * NIC models, sub-options with virtinst's meaning, bounds, and the refusals (each an input error,
 * exit 2, naming the option).
 */
import { expect } from 'chai';
import { isInstallGuestError } from '../../../src/errors.js';
import { parseInstallRequest, type RawInstallArgs } from '../../../src/request/request.js';
import {
  addKernelArgs,
  kickstartIdiom,
  mergeKernelArgs,
  unknownOptionError,
} from '../../../src/request/virt-install.js';

const BOOT = { boot: 'kernel=/k/vmlinuz,initrd=/k/initrd.img' };
const parse = (raw: RawInstallArgs) => parseInstallRequest({ ...BOOT, ...raw }, '/w');

function refused(raw: RawInstallArgs, option: RegExp): string {
  try {
    parse(raw);
  } catch (e) {
    expect(isInstallGuestError(e), String(e)).to.equal(true);
    const err = e as { exitCode: number; message: string };
    expect(err.exitCode).to.equal(2);
    expect(err.message).to.match(option);
    return err.message;
  }
  throw new Error(`accepted: ${JSON.stringify(raw)}`);
}

describe('request: virt-install grammar', () => {
  describe('the kickstart idiom', () => {
    it('takes the injected file named by inst.ks=file:/ as the answer file, and injects it only once', () => {
      const r = parse({
        initrdInject: ['ks.cfg', 'extra.conf'],
        extraArgs: 'inst.ks=file:/ks.cfg console=ttyS0',
      });
      expect(r.kickstart).to.equal('/w/ks.cfg');
      expect(r.kickstartInjectedAs).to.equal('ks.cfg');
      expect(r.initrdInject).to.deep.equal(['/w/extra.conf']);
    });
    it('knows ks=file:, preseed/file= and a bare injected preseed.cfg', () => {
      expect(kickstartIdiom('ks=file:/my.ks', ['/a/my.ks'])).to.deep.equal({
        path: '/a/my.ks',
        name: 'my.ks',
      });
      expect(kickstartIdiom('preseed/file=/p.cfg', ['/a/p.cfg'])?.name).to.equal('p.cfg');
      expect(kickstartIdiom(undefined, ['/a/preseed.cfg'])?.name).to.equal('preseed.cfg');
      expect(kickstartIdiom('inst.ks=file:/other.cfg', ['/a/ks.cfg'])).to.equal(undefined);
    });
    it('refuses a second answer file (--kickstart or --unattended beside the idiom)', () => {
      refused(
        { initrdInject: ['ks.cfg'], extraArgs: 'inst.ks=file:/ks.cfg', kickstart: 'fedora' },
        /--initrd-inject ks.cfg/,
      );
      refused(
        { initrdInject: ['ks.cfg'], extraArgs: 'inst.ks=file:/ks.cfg', unattended: '' },
        /--unattended/,
      );
    });
  });

  describe('kernel arguments', () => {
    it('merges without duplicates: a later console=, inst.ks= or repo replaces the earlier', () => {
      expect(
        mergeKernelArgs(
          'console=ttyS0',
          'inst.repo=http://a/ inst.text',
          'inst.ks=file:/ks.cfg console=ttyS0',
        ),
      ).to.equal('inst.repo=http://a/ inst.text inst.ks=file:/ks.cfg console=ttyS0');
      expect(mergeKernelArgs('console=ttyS0', 'console=tty0 console=ttyS0,115200')).to.equal(
        'console=tty0 console=ttyS0,115200',
      );
      expect(mergeKernelArgs('ks=file:/a.cfg', 'inst.ks=file:/b.cfg')).to.equal('inst.ks=file:/b.cfg');
    });
    it("adds the delivery's arguments only where the user's do not already say it", () => {
      expect(addKernelArgs('console=ttyS0 inst.ks=file:/ks.cfg', ['inst.ks=file:/ks.cfg'])).to.equal(
        'console=ttyS0 inst.ks=file:/ks.cfg',
      );
      expect(addKernelArgs('console=ttyS0', ['inst.ks=file:/ks.cfg'])).to.equal(
        'console=ttyS0 inst.ks=file:/ks.cfg',
      );
    });
    it('refuses control characters in --extra-args', () => {
      refused({ extraArgs: 'inst.text\tquiet' }, /--extra-args/);
      refused({ extraArgs: 'a\u001bb' }, /--extra-args/);
    });
  });

  describe('network, disk, hostdev', () => {
    it('maps libvirt NIC models to qemu devices', () => {
      expect(parse({ network: 'bridge=br0,model=virtio' }).network).to.deep.equal({
        kind: 'bridge',
        bridge: 'br0',
        model: 'virtio-net-pci',
      });
      expect(parse({ network: 'bridge:br1,model=rtl8139' }).network).to.include({
        bridge: 'br1',
        model: 'rtl8139',
      });
      refused({ network: 'user,model=virtio9' }, /model='virtio9'/);
    });
    it('refuses multicast, broadcast and all-zero MACs, and libvirt networks', () => {
      refused({ network: 'user,mac=ff:ff:ff:ff:ff:ff' }, /multicast/);
      refused({ network: 'user,mac=01:00:5e:00:00:01' }, /multicast/);
      refused({ network: 'user,mac=00:00:00:00:00:00' }, /all zeros/);
      refused({ network: 'network=default' }, /libvirt/);
    });
    it('--disk none is no disk (with --noreboot), and its sub-options arrive', () => {
      expect(parse({ disk: ['none'], noreboot: true }).disks).to.deep.equal([]);
      refused({ disk: ['none'] }, /--disk none/);
      const d = parse({
        disk: [
          '/i/a.qcow2,size=4,cache=none,io=native,discard=unmap,serial=s1,readonly=on,sparse=no,boot.order=2',
        ],
      }).disks[0]!;
      expect(d).to.deep.include({
        path: '/i/a.qcow2',
        sizeGiB: 4,
        cache: 'none',
        io: 'native',
        discard: 'unmap',
      });
      expect(d).to.deep.include({ serial: 's1', readonly: true, sparse: false, bootOrder: 2 });
      refused({ disk: ['size=4,io=native'] }, /io=native needs cache=none/);
      // pool=: a new volume in that libvirt pool (--connect is checked by validate-request)
      expect(parse({ disk: ['pool=fast,size=4'], name: 'web1' }).disks[0]).to.deep.include({
        pool: 'fast',
        sizeGiB: 4,
        format: 'qcow2',
      });
      expect(parse({ disk: ['source.pool=fast,size=4'] }).disks[0]!.pool).to.equal('fast');
      refused({ disk: ['pool=fast'] }, /needs its size/);
      refused({ disk: ['pool=fast,path=/i/a.qcow2,size=4'] }, /pool= and path= both/);
      refused({ disk: ['pool=a/b,size=4'] }, /is not a pool name/);
      refused({ disk: ['vol=fast/web1.qcow2'] }, /existing volume \(vol=\) is not supported/);
    });
    it("--hostdev: the guest-side address, driver.name=vfio, and virt-install's USB vendor:product refused", () => {
      const h = parse({
        hostdev: [
          '03:00.0,address.type=pci,address.bus=0x00,address.slot=0x05,address.function=0x1,driver.name=vfio',
        ],
      }).hostdevs[0]!;
      expect(h).to.deep.equal({
        selector: '03:00.0',
        guestAddress: { domain: 0, bus: 0, slot: 5, function: 1 },
      });
      refused({ hostdev: ['0x8086:0x10d3'] }, /USB vendor:product/);
      refused({ hostdev: ['03:00.0,driver.name=kvm'] }, /driver.name/);
      refused({ hostdev: ['03:00.0,address.bus=0x00,address.slot=0x00'] }, /host bridge/);
    });
  });

  describe('memory and vCPUs', () => {
    it('bounds --memory: whole MiB, 16 MiB to 16 TiB', () => {
      for (const m of ['99999999999999999999', '9007199254740993', '1.5', '0', '8'])
        refused({ memory: m }, /--memory/);
      expect(parse({ memory: '2048' }).memoryMiB).to.equal(2048);
      expect(parse({ memory: '2G' }).memoryMiB).to.equal(2048);
    });
    it("reads maxmemory=/currentMemory= with virtinst's meaning, and refuses a balloon", () => {
      expect(parse({ memory: '2048,maxmemory=2048' }).memoryMiB).to.equal(2048);
      expect(parse({ memory: 'memory=1024,currentMemory=1024' }).memoryMiB).to.equal(1024);
      refused({ memory: '1024,maxmemory=2048' }, /balloon/);
    });
    it('--vcpus N,maxvcpus=M is N online of M; bounded at 288', () => {
      expect(parse({ vcpus: '2,maxvcpus=4' }).vcpus).to.deep.equal({ count: 2, max: 4 });
      refused({ vcpus: '100000' }, /--vcpus/);
      refused({ vcpus: '4,maxvcpus=2' }, /maxvcpus/);
    });
  });

  describe('accepted no-ops, aliases and refusals', () => {
    it('accepts what pasted lines carry', () => {
      const r = parse({
        wait: '-1',
        noautoconsole: true,
        autoconsole: 'text',
        console: 'pty,target_type=serial',
        graphics: 'none,listen=none',
        check: ['all=off'],
        virtType: 'qemu',
        osVariant: 'detect=on,require=off,name=fedora40',
      });
      expect(r.accel).to.equal('tcg');
      expect(r.osVariant).to.equal('fedora40');
      expect(r.waitMinutes).to.be.greaterThan(30_000);
    });
    it('refuses what it cannot do, naming the option', () => {
      refused({ autoconsole: 'graphical' }, /--autoconsole/);
      refused({ console: 'pty,target_type=virtio' }, /--console/);
      refused({ virtType: 'xen' }, /--virt-type/);
      refused({ tpm: 'passthrough' }, /--tpm/);
      refused({ tpm: 'emulator,backend.version=1.2' }, /backend.version='1.2'/);
      refused({ tpm: 'emulator,model=tpm-spapr' }, /model='tpm-spapr'/);
      refused({ rng: 'egd' }, /--rng/);
      refused({ unattended: 'profile=desktop' }, /profile=desktop/);
    });
    it('--boot uefi, firmware=efi and loader= ask for UEFI; --tpm and --rng in a plan and a run', () => {
      expect(parse({ boot: 'uefi,kernel=/k/vmlinuz' }).boot?.uefi).to.deep.equal({});
      expect(parse({ boot: 'firmware=efi,kernel=/k/vmlinuz' }).boot?.uefi).to.deep.equal({});
      expect(parse({ boot: 'loader=/fw/CODE.fd,kernel=/k/vmlinuz' }).boot?.uefi).to.deep.equal({
        loader: '/fw/CODE.fd',
      });
      const r = parse({ tpm: 'emulator,model=tpm-tis', rng: '/dev/urandom', dryRun: true });
      expect(r.tpm).to.deep.equal({ model: 'tpm-tis' });
      expect(r.rng).to.deep.equal({ source: '/dev/urandom' });
      // an install run takes --tpm too (swtpm per boot); virt-install's default model on x86 is tpm-crb
      expect(parse({ tpm: 'default' }).tpm).to.deep.equal({ model: 'tpm-crb' });
      expect(parse({ tpm: 'emulator,backend.type=emulator,backend.version=2.0' }).tpm).to.deep.equal({
        model: 'tpm-crb',
      });
    });
    it('--unattended gives the built-in template its secrets as files', () => {
      const r = parse({
        unattended: 'admin-password-file=root.pw,user-login=alice,user-password-file=alice.pw',
      });
      expect(r.ksSet).to.deep.equal([
        'rootPasswordFile=/w/root.pw',
        'user.name=alice',
        'user.passwordFile=/w/alice.pw',
      ]);
    });
    it("names an unknown option, and says when it is virt-install's", () => {
      expect(unknownOptionError('Unknown argument: video')?.message).to.match(
        /--video is a virt-install option/,
      );
      expect(unknownOptionError('Unknown arguments: frob, x')?.message).to.match(/--frob.*neither/);
    });
  });
});
