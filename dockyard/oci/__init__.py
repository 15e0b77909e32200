# SPDX-License-Identifier: Apache-2.0
"""Config/HostConfig → OCI runtime spec with Docker's defaults, as small composable with_* steps.

`build_spec(record, rootfs=...)` is the entry point (see `spec.py`); `seccomp.py` converts
Docker's seccomp profile format, `caps.py` and `user.py` resolve capabilities and users,
`host.py` holds the host facts the spec depends on.
"""

from dockyard.oci.host import HostInfo
from dockyard.oci.spec import (
    SpecOpt,
    apply,
    build_exec_process,
    build_spec,
    default_spec,
    with_capabilities,
    with_cgroups_path,
    with_devices,
    with_hostname,
    with_init,
    with_masked_paths,
    with_mounts,
    with_namespace_path,
    with_namespaces,
    with_network_namespace,
    with_no_new_privileges,
    with_process,
    with_resources,
    with_rlimits,
    with_root,
    with_seccomp,
    with_sysctls,
    with_user,
    with_user_namespace,
)

__all__ = [
    "HostInfo", "SpecOpt", "apply", "build_exec_process", "build_spec", "default_spec", "with_capabilities",
    "with_cgroups_path", "with_devices", "with_hostname", "with_init", "with_masked_paths",
    "with_mounts", "with_namespace_path", "with_namespaces", "with_network_namespace",
    "with_no_new_privileges", "with_process", "with_resources", "with_rlimits", "with_root",
    "with_seccomp", "with_sysctls", "with_user", "with_user_namespace",
]
