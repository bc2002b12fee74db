package netns

// sysSetns is setns(2)'s number (see setns_linux_amd64.go).
const sysSetns = 346
