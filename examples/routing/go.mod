module github.com/shoalhq/shoal/examples/routing

go 1.26
