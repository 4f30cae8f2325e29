-- Code packages are read in 1 MiB slices (streamed downloads). Uncompressed out-of-line
-- storage lets substring() fetch only the slice's TOAST chunks instead of decompressing the
-- value from its start for every slice (docs/decisions.md). Applies to packages stored from now on.
ALTER TABLE artifacts ALTER COLUMN content SET STORAGE EXTERNAL;
