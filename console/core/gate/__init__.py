"""Judgements on a colour: may it take traffic (readiness), how far behind is it and when will it
catch up (tracking), is it healthy under traffic (analysis), will the disk last (disk)."""
