# SPDX-License-Identifier: Apache-2.0
"""Config/HostConfig → OCI runtime spec with Docker's defaults, as small composable with_* steps."""
