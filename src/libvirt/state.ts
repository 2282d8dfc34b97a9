/** What an install through libvirt keeps in the pipeline's state (a leaf: types only). */
export interface LibvirtState {
  uri: string;
  local: boolean;
  domainType: 'kvm' | 'qemu';
  /** the pool the boot media and new disks without their own `pool=` go to */
  pool: string;
  /** --transient: nothing stays defined after the install */
  transient: boolean;
  /** what this run created on the libvirt host, recorded as it goes (mutable on purpose) */
  created: {
    /** volumes in `pool`; `boot` ones (kernel, initrd, cdroms) are removed after every run */
    volumes: { name: string; pool: string; boot: boolean }[];
    /** the persistent domain was defined */
    defined: boolean;
  };
  /** request disk path → the path of its volume on the libvirt host */
  diskPaths: Record<string, string>;
}
