"""torch.distributed: the process group, shards of the work, and joining torchrun's group."""
