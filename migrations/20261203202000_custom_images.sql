-- Custom images (issue 11 item 4): a function may run in its own image instead of its
-- language's runtime image; the first worker that resolves the reference pins its image id.
ALTER TABLE functions
    ADD COLUMN image text CHECK (image IS NULL OR length(image) BETWEEN 1 AND 255),
    ADD COLUMN image_pin text CHECK (image_pin IS NULL OR image_pin ~ '^sha256:[0-9a-f]{64}$');
