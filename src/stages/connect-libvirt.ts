/**
 * With --connect (or LIBVIRT_DEFAULT_URI): checks the libvirt host answers, picks the domain type
 * it offers for --accel, and refuses a name already in use there. Its cleanup runs last: after a
 * failure (or with --transient) the persistent domain is undefined and every volume this run
 * created is deleted; after a success only the boot volumes go, and the domain stays defined with
 * its serial console on a pty (`virsh console NAME`), as virt-install leaves it.
 */
import { inputError } from '../errors.js';
import type { Stage } from '../pipeline/stage.js';
import type { InstallState } from '../pipeline/state.js';
import { need } from '../pipeline/stage.js';

export const connectLibvirt: Stage<InstallState> = {
  name: 'connect-libvirt',
  changesHost: false,
  async run({ state, signal, log }) {
    const c = state.connect;
    if (!c) return {};
    const [{ LibvirtConnection }, { x86DomainTypes }, { chooseDomainType, mainPool }] = await Promise.all([
      import('../libvirt/connection.js'),
      import('../libvirt/doctor.js'),
      import('../libvirt/install.js'),
    ]);
    const conn = new LibvirtConnection(c.uri);
    const hypervisor = await conn.check(signal);
    const req = need(state, 'request');
    const domainType = chooseDomainType(
      req.accel,
      x86DomainTypes(await conn.virsh(['capabilities'])),
      conn.uri,
    );
    if (
      await conn.virsh(['dominfo', req.name]).then(
        () => true,
        () => false,
      )
    ) {
      throw inputError('NAME_IN_USE', `a domain named '${req.name}' already exists on ${conn.uri}`, {
        hint: `choose another --name, or remove it: virsh -c ${conn.uri} undefine ${req.name}`,
      });
    }
    const { pool, named } = mainPool(req.disks);
    log.info(
      `libvirt: ${conn.uri} (${hypervisor}), domain type ${domainType}; install media and new disks in pool '${pool}'${named ? '' : ' (no pool= given: the default pool)'}`,
    );
    return {
      accel: domainType === 'kvm' ? 'kvm' : 'tcg',
      libvirt: {
        uri: c.uri,
        local: conn.local,
        domainType,
        pool,
        transient: c.transient,
        created: { volumes: [], defined: false },
        diskPaths: {},
      },
    };
  },
  async cleanup({ state, log, dryRun }, outcome) {
    const lv = state.libvirt;
    if (!lv) return;
    const { connectionFor, domainXml } = await import('../libvirt/install.js');
    const conn = await connectionFor(lv);
    const name = need(state, 'request').name;
    const keep = outcome === 'success' && !lv.transient;
    if (lv.created.defined) {
      if (keep) {
        // the domain the user keeps: serial console on a pty, as virt-install defines it
        const xml = domainXml(state, 'confirm', { cdroms: [] }, undefined);
        const [{ mkdtemp, rm, writeFile }, os, path] = await Promise.all([
          import('node:fs/promises'),
          import('node:os'),
          import('node:path'),
        ]);
        const dir = await mkdtemp(path.join(os.tmpdir(), 'install-guest-'));
        try {
          await writeFile(path.join(dir, 'domain.xml'), xml, { mode: 0o600 });
          await conn
            .virsh(['define', path.join(dir, 'domain.xml')])
            .catch((e: unknown) => log.warn(`redefining ${name}: ${String(e)}`));
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
        log.info(`libvirt: ${name} stays defined on ${conn.uri} (virsh -c ${conn.uri} start ${name})`);
      } else {
        await conn.virsh(['destroy', name]).catch(() => undefined);
        await conn
          // with its vars store and (--tpm) the TPM state libvirt kept for it
          .virsh(['undefine', name, '--nvram', ...(need(state, 'request').tpm ? ['--tpm'] : [])])
          .catch(() =>
            conn
              .virsh(['undefine', name])
              .catch((e: unknown) => log.warn(`undefining ${name}: ${String(e)}`)),
          );
      }
    }
    // a transient domain's vars store (--boot uefi) and TPM state (--tpm, persistent_state='yes')
    // outlive it in libvirt's directories: when no domain of this name stays, define one for a
    // moment and undefine it with them (libvirt knows where they are, on a remote host too)
    const req = need(state, 'request');
    const booted = !dryRun && state.argv !== undefined && state.uuid !== undefined;
    if (booted && (req.tpm || req.boot?.uefi) && !(lv.created.defined && keep)) {
      const exists = await conn.virsh(['domstate', name]).then(
        () => true,
        () => false,
      );
      if (!exists) {
        const [{ mkdtemp, rm, writeFile }, os, path] = await Promise.all([
          import('node:fs/promises'),
          import('node:os'),
          import('node:path'),
        ]);
        const dir = await mkdtemp(path.join(os.tmpdir(), 'install-guest-'));
        try {
          await writeFile(
            path.join(dir, 'domain.xml'),
            domainXml(state, 'confirm', { cdroms: [] }, undefined),
            {
              mode: 0o600,
            },
          );
          await conn.virsh(['define', path.join(dir, 'domain.xml')]);
          await conn.virsh(['undefine', name, '--nvram', ...(req.tpm ? ['--tpm'] : [])]);
        } catch (e) {
          log.warn(`removing the vars store and TPM state of ${name}: ${String(e)}`);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    }
    const doomed = lv.created.volumes.filter((v) => v.boot || outcome !== 'success');
    // one virsh for all of them (virsh runs `a ; b` itself: one start-up, one connection, which is
    // most of the time a failed install takes to end); names virsh's parser would read otherwise,
    // or any error, fall back to one call per volume
    const plain = /^[A-Za-z0-9_.+-]+$/;
    if (doomed.length > 1 && doomed.flatMap((v) => [v.pool, v.name]).every((n) => plain.test(n))) {
      const script = doomed.map((v) => `vol-delete --pool ${v.pool} ${v.name}`).join(' ; ');
      const ok = await conn.virsh([script]).then(
        () => true,
        () => false,
      );
      if (ok) return;
    }
    await Promise.all(
      doomed.map((v) =>
        conn.virsh(['vol-info', '--pool', v.pool, v.name]).then(
          () =>
            conn
              .virsh(['vol-delete', '--pool', v.pool, v.name])
              .catch((e: unknown) => log.warn(`deleting volume ${v.name}: ${String(e)}`)),
          () => undefined,
        ),
      ),
    );
  },
};
