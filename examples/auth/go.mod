module github.com/shoalhq/shoal/examples/auth

go 1.26
