package export

import _ "example.com/fake/internal/store"
