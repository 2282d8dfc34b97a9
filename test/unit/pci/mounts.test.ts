import { expect } from 'chai';
import { parseMountInfo, parseSwaps } from '../../../src/pci/mounts.js';

describe('pci/mounts', () => {
  it('reads mountinfo, optional fields and octal escapes included', () => {
    const text = [
      '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard',
      '31 26 259:2 / /srv/my\\040data rw,relatime shared:5 master:1 - xfs /dev/nvme0n1p2 rw',
      '22 26 0:21 / /sys rw,relatime - sysfs sysfs rw',
      'garbage',
    ].join('\n');
    expect(parseMountInfo(text)).to.deep.equal([
      { majorMinor: '254:0', mountPoint: '/', fsType: 'ext4', source: '/dev/vda' },
      { majorMinor: '259:2', mountPoint: '/srv/my data', fsType: 'xfs', source: '/dev/nvme0n1p2' },
      { majorMinor: '0:21', mountPoint: '/sys', fsType: 'sysfs', source: 'sysfs' },
    ]);
  });

  it('reads /proc/swaps', () => {
    const text =
      'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sda3 partition\t8388604\t0\t-2\n/swapfile file 1024 0 -3\n';
    expect(parseSwaps(text)).to.deep.equal(['/dev/sda3', '/swapfile']);
  });
});
