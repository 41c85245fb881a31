# Fragment of the non-recursive build; filled in by its area.
