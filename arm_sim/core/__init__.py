"""Pure building blocks: errors, resource ids, merge-patch, settings. Imports nothing else of arm_sim."""
