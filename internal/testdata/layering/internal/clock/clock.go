package clock

const Now = 0
