module canopy

go 1.19
