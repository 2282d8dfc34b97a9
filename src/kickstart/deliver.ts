/**
 * How the answer file reaches the installer, decided from how the guest boots. Pure: the stage
 * that applies it calls injectIntoInitrd / makeOemdrvImage / serveKickstart.
 *
 * - `initrd`: we pass -kernel/-initrd to qemu, so the answer file rides in a copy of the initrd
 *   (no network needed before the installer reads it). Kickstart: `inst.ks=file:/ks.cfg`;
 *   preseed: d-i reads /preseed.cfg from the initrd root by itself.
 * - `oemdrv`: the guest boots an ISO we cannot change; anaconda scans volumes labelled OEMDRV for
 *   /ks.cfg without any kernel argument. Debian's installer has no such lookup: refused.
 * - `http`: asked for explicitly; `inst.ks=http://…` or d-i `url=…`. d-i configures the network
 *   before it fetches the preseed, so the NIC is named on the kernel command line as well.
 */
import { inputError } from '../errors.js';
import type { AnswerFamily } from './render.js';
import { answerFileName } from './render.js';

export type DeliveryMethod = 'initrd' | 'oemdrv' | 'http';

/** `kernel`: qemu boots a kernel and initrd we hold; `cdrom`: qemu boots the install ISO itself. */
export type BootKind = 'kernel' | 'cdrom';

export function chooseDelivery(input: {
  boot: BootKind;
  family: AnswerFamily;
  requested?: DeliveryMethod;
}): DeliveryMethod {
  const { boot, family, requested } = input;
  if (requested === 'http') return 'http';
  if (requested === 'initrd' && boot !== 'kernel') {
    throw inputError(
      'KICKSTART_DELIVERY',
      'kickstart delivery "initrd" needs a kernel and initrd boot; this guest boots a cdrom',
      {
        hint: "deliver by OEMDRV volume or HTTP instead, or boot the media's kernel and initrd",
      },
    );
  }
  if (requested === 'oemdrv' || (requested === undefined && boot === 'cdrom')) {
    if (family === 'preseed') {
      throw inputError(
        'KICKSTART_DELIVERY',
        'the Debian installer does not read an answer file from an OEMDRV volume; a preseed needs a kernel and initrd boot or HTTP',
        { hint: "boot the media's kernel and initrd (delivery initrd), or deliver it by HTTP" },
      );
    }
    return 'oemdrv';
  }
  return 'initrd';
}

/** The kernel arguments that point the installer at its answer file (none needed for OEMDRV). */
export function kernelArgsFor(
  method: DeliveryMethod,
  family: AnswerFamily,
  options: { url?: string; nicMac?: string } = {},
): string[] {
  if (method === 'http' && !options.url) throw new Error('kernelArgsFor: http delivery needs the served URL');
  if (family === 'kickstart') {
    switch (method) {
      case 'initrd':
        return [`inst.ks=file:/${answerFileName(family)}`];
      case 'oemdrv':
        return [`inst.ks=hd:LABEL=OEMDRV:/${answerFileName(family)}`];
      case 'http':
        return [`inst.ks=${options.url}`];
    }
  }
  const base = ['auto=true', 'priority=critical'];
  switch (method) {
    case 'initrd':
      return base;
    case 'http':
      return [
        ...base,
        `url=${options.url}`,
        ...(options.nicMac ? [`netcfg/choose_interface=${options.nicMac}`] : []),
      ];
    case 'oemdrv':
      throw inputError('KICKSTART_DELIVERY', 'a preseed cannot be delivered on an OEMDRV volume', {
        hint: 'use initrd or http delivery',
      });
  }
}
