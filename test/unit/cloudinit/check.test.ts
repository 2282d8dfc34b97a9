import { expect } from 'chai';
import { checkCloudInit } from '../../../src/cloudinit/check.js';
import { parseInstallRequest, type RawInstallArgs } from '../../../src/request/request.js';
import { rejectionLine } from '../../helpers/typed-error.js';

const check = (raw: RawInstallArgs): Promise<unknown> =>
  checkCloudInit(raw, parseInstallRequest(raw, '/w'), '/w', '/nonexistent-home');

describe('cloudinit/check: --cloud-init against the rest of the request', () => {
  it('accepts an import; a bare --cloud-init without an ssh key generates a password', async () => {
    const o = await check({ import: true, disk: ['path=/d.qcow2'], cloudInit: '' });
    expect(o).to.include({ rootPasswordGenerate: true, defaulted: true, seed: 'iso' });
  });

  it('refuses an installer boot (--cdrom, --boot) with the media named', async () => {
    expect(await rejectionLine(check({ cdrom: '/x.iso', disk: ['size=1'], cloudInit: '' }))).to.match(
      /^input:CLOUD_INIT_NEEDS_IMPORT: --cloud-init configures an imported cloud image, but --cdrom \/x.iso boots an installer/,
    );
    expect(await rejectionLine(check({ boot: 'kernel=/k', disk: ['size=1'], cloudInit: '' }))).to.match(
      /but --boot kernel=… boots an installer/,
    );
  });

  it('refuses seed=smbios without user networking (the seed is served to the guest over it)', async () => {
    expect(
      await rejectionLine(
        check({ import: true, disk: ['path=/d'], network: 'none', cloudInit: 'disable=on,seed=smbios' }),
      ),
    ).to.match(/^input:CLOUD_INIT_SMBIOS_NETWORK: .* but the network is none$/);
  });

  it('reads the named files before anything is created (a missing one is exit 2)', async () => {
    expect(
      await rejectionLine(
        check({ import: true, disk: ['path=/d'], cloudInit: 'user-data=/nonexistent/ud.yaml' }),
      ),
    ).to.equal('input:BAD_CLOUD_INIT: --cloud-init user-data=/nonexistent/ud.yaml: no such file');
  });
});

describe('cloudinit/check: with --connect (libvirt runs the guest)', () => {
  const raw: RawInstallArgs = { import: true, disk: ['path=/d.qcow2'] };
  const withConnect = (cloudInit: string): Promise<unknown> =>
    checkCloudInit(
      { ...raw, cloudInit },
      parseInstallRequest(raw, '/w'),
      '/w',
      '/nonexistent-home',
      'qemu:///system',
    );

  it('accepts the seed volume (seed=iso, the default)', async () => {
    expect(await withConnect('disable=on')).to.include({ seed: 'iso', disable: true });
  });

  it('refuses seed=smbios as not implemented, naming the option and the URI (exit 2)', async () => {
    expect(await rejectionLine(withConnect('disable=on,seed=smbios'))).to.match(
      /^input:NOT_IMPLEMENTED: --cloud-init seed=smbios with --connect qemu:\/\/\/system is not implemented/,
    );
  });
});
