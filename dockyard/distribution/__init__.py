# SPDX-License-Identifier: Apache-2.0
"""Image references: parsing and normalising names the way Docker does."""
