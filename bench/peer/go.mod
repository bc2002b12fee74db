module github.com/shoalhq/shoal/bench/peer

go 1.26
