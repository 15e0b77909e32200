# SPDX-License-Identifier: Apache-2.0
"""The registry server: an OCI distribution-spec registry on the content-store code."""
