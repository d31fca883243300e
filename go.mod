module sirec

go 1.26.8
