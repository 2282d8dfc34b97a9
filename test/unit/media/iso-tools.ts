/**
 * Builds ISO images for tests with the real tools (xorriso, genisoimage) and lists them with
 * xorriso, the oracle the in-house reader is compared with.
 */
import { execa } from 'execa';

export type IsoMaker =
  'xorriso-rr-joliet' | 'xorriso-native' | 'genisoimage-rr' | 'genisoimage-joliet' | 'genisoimage-plain';

/**
 * Builds one ISO; a maker killed by a signal is run once more. xorriso was seen dying of SIGSEGV
 * once under load on the reference machine while building a fixture; a crash of the fixture
 * builder is not what the tests examine, while an error exit still fails at once.
 */
export async function makeIso(maker: IsoMaker, srcDir: string, out: string, label: string): Promise<void> {
  try {
    await makeIsoOnce(maker, srcDir, out, label);
  } catch (e) {
    if (!(e as { signal?: string }).signal) throw e;
    await makeIsoOnce(maker, srcDir, out, label);
  }
}

async function makeIsoOnce(maker: IsoMaker, srcDir: string, out: string, label: string): Promise<void> {
  const env = { LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
  switch (maker) {
    case 'xorriso-rr-joliet':
      await execa('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', label, '-o', out, srcDir], {
        env,
      });
      return;
    case 'xorriso-native':
      await execa(
        'xorriso',
        ['-report_about', 'SORRY', '-outdev', out, '-volid', label, '-map', srcDir, '/'],
        { env },
      );
      return;
    case 'genisoimage-rr':
      await execa(
        'genisoimage',
        ['-quiet', '-input-charset', 'utf-8', '-R', '-V', label, '-o', out, srcDir],
        { env },
      );
      return;
    case 'genisoimage-joliet':
      await execa(
        'genisoimage',
        ['-quiet', '-input-charset', 'utf-8', '-J', '-V', label, '-o', out, srcDir],
        { env },
      );
      return;
    case 'genisoimage-plain':
      await execa('genisoimage', ['-quiet', '-input-charset', 'utf-8', '-V', label, '-o', out, srcDir], {
        env,
      });
      return;
  }
}

export interface OracleEntry {
  type: 'd' | '-' | 'l';
  size: number;
  path: string;
  target?: string;
}

/** `xorriso -indev ISO -find / -exec lsdl`, parsed (root left out). */
export async function xorrisoList(iso: string): Promise<OracleEntry[]> {
  const r = await execa('xorriso', ['-indev', iso, '-find', '/', '-exec', 'lsdl'], {
    env: { LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
  });
  const out: OracleEntry[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^([dl-])\S{9}\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\w{3}\s+\d+\s+[\d:]+\s+'(.*?)'(?: -> '(.*)')?$/.exec(
      line,
    );
    if (!m || m[3] === '/') continue;
    out.push({
      type: m[1] as OracleEntry['type'],
      size: Number(m[2]),
      path: m[3]!.replace(/^\//, ''),
      ...(m[4] !== undefined ? { target: m[4] } : {}),
    });
  }
  return out;
}

/** The label blkid reports for an image file (`blkid -p -s LABEL -o value`). */
export async function blkidLabel(iso: string): Promise<string> {
  const r = await execa('blkid', ['-p', '-s', 'LABEL', '-o', 'value', iso], { reject: false });
  return r.stdout.trim();
}
