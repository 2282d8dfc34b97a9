import { expect } from 'chai';
import { chooseDelivery, kernelArgsFor } from '../../../src/kickstart/deliver.js';

describe('kickstart/deliver', () => {
  const table: [Parameters<typeof chooseDelivery>[0], string][] = [
    [{ boot: 'kernel', family: 'kickstart' }, 'initrd'],
    [{ boot: 'kernel', family: 'preseed' }, 'initrd'],
    [{ boot: 'cdrom', family: 'kickstart' }, 'oemdrv'],
    [{ boot: 'cdrom', family: 'kickstart', requested: 'http' }, 'http'],
    [{ boot: 'kernel', family: 'preseed', requested: 'http' }, 'http'],
    [{ boot: 'kernel', family: 'kickstart', requested: 'oemdrv' }, 'oemdrv'],
  ];
  for (const [input, want] of table) {
    it(`delivers ${input.family} booted from ${input.boot}${input.requested ? ` (asked ${input.requested})` : ''} by ${want}`, () => {
      expect(chooseDelivery(input)).to.equal(want);
    });
  }

  it('refuses combinations the installer cannot read', () => {
    expect(() => chooseDelivery({ boot: 'cdrom', family: 'preseed' })).to.throw(/OEMDRV/);
    expect(() => chooseDelivery({ boot: 'cdrom', family: 'kickstart', requested: 'initrd' })).to.throw(
      /kernel and initrd/,
    );
  });

  it('gives the kernel arguments for each method', () => {
    expect(kernelArgsFor('initrd', 'kickstart')).to.deep.equal(['inst.ks=file:/ks.cfg']);
    expect(kernelArgsFor('oemdrv', 'kickstart')).to.deep.equal(['inst.ks=hd:LABEL=OEMDRV:/ks.cfg']);
    expect(kernelArgsFor('http', 'kickstart', { url: 'http://10.0.2.2:5000/ks/x/ks.cfg' })).to.deep.equal([
      'inst.ks=http://10.0.2.2:5000/ks/x/ks.cfg',
    ]);
    expect(kernelArgsFor('initrd', 'preseed')).to.deep.equal(['auto=true', 'priority=critical']);
    expect(
      kernelArgsFor('http', 'preseed', { url: 'http://h/p', nicMac: '52:54:00:12:34:56' }),
    ).to.deep.equal([
      'auto=true',
      'priority=critical',
      'url=http://h/p',
      'netcfg/choose_interface=52:54:00:12:34:56',
    ]);
    expect(() => kernelArgsFor('http', 'kickstart')).to.throw(/URL/);
  });
});
