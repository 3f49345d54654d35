module leaky

go 1.21
