# SPDX-License-Identifier: MIT
# reliable_loss.sh at 80% loss, both directions (same checks, same size).
NCX_LOSS=${NCX_LOSS:-0.8} exec bash "$(dirname "$0")/reliable_loss.sh"
