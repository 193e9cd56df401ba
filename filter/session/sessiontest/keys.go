// Package sessiontest holds fixed RSA keys for tests of RS256 sessions, so
// that no test spends time (seconds inside wasm) generating one. They sign
// nothing outside tests.
package sessiontest

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"sync"
)

// RSAKey returns fixed 2048-bit test key i (0 or 1).
func RSAKey(i int) *rsa.PrivateKey {
	parsed.Do(parse)
	return keys[i]
}

var (
	parsed sync.Once
	keys   [2]*rsa.PrivateKey
)

func parse() {
	for i, p := range [...]string{key0, key1} {
		b, _ := pem.Decode([]byte(p))
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			panic("sessiontest: " + err.Error())
		}
		keys[i] = k.(*rsa.PrivateKey)
	}
}

const key0 = `
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCgalLneCerv+wm
iNIK+VoP9bRFqNGOjhxuRuIchIaiY0+lv0uwD+2AEO7kCHP+lfhmom3Ss0X9sP9i
ZiJtynmlLcvDzBc49Rm/bT9RrmwtIwilBtnxyqRpGPTcSR9ly2k89CMUNR2VQNud
isDOeYiHJSpKiCiwZhX60emIRfK66O9IHwh4Msj6xMIlI4x4/THK+xxI1xUx9lK2
SBa2zsUxb14VAa12GP7Lwfx1xqG04JrTidchGjn0o99/1X9LYE/fF6jnqE6ISBql
GUiqCy+H7dm0EM2HdSZZ7aAkjDfOdw9TuKeTBQeWmRYGmXo7Yo45jGLcgqRW3kom
3FviswL1AgMBAAECggEARIVmKE1g1LJEUyl6Xwmn+M1BVcgIy1XUux44E2pggBjf
urL9x5TmJCAXivw5X/P7iQu00Z2WNglW7VcnObKVR4NKWLZi7Qd1Ghm2RFO3DYi7
dpJ4ohmnJOVuInJxoO/EYi7+lPEjU8/Cf4b3WLr9II01hWSnzMGufdcQZA9M4Z1U
3tom6ISAjV5N+og5d53wrnqu0ALY9A4PvT1kre1bLmvza045FboiDCIN7iwBKOvB
dGqIkSa6WZ65Aru/OjQ2zIl/ZjWrPCYLnZKyd4AiX5KEfNPmErwTkKPsP6ip45Ht
H8y6IiWX2GeFCk9Vf0b0sfwrYgQnWSV63I5uIVTCuQKBgQDTpYxQ5tfka4xT+G9M
XTBxHIPxc8ND9px2W+rv4ig3xsiKAF8pLKiUeluPpkhayMQq1RTD2yIy+gUmufEN
rZ8fAVf1zzp8crLTRoXDA8t7JvEfXr5KJqnT2yQw3ht465g5ZWUmhvijpWm0idaI
MeRNPZdsGo5AEa5d2NS1gASFZwKBgQDCCE8aO/dVIiIazYXi3pb/J7HrizobY1dW
suAWgRW+RS8kfRcXX2AjvGAPRnfKUyowFqLmbhWf292FyVeYgBy9V44ZQ5UvXPSy
rZ8GoEfq9TLBQLTUfKEyz6G4QS7VfXTEij8l+Zi+wAvwycaWPF7siEkMEDhhS6LI
KgYphjp/QwKBgQDLRQE5piwNftl8wGssnYfr6uYyHOuaN51X87n1gHD9+NYb7HV4
1yJl0ApmMd7mClKVjKbv4GO9L/GImycP6wObRLAVLl1Ort5fGilX/ioM8n68kUMT
doS/K4ZbxMX/4c4GugJm+VSN301hjszTa4+IO7JVqj+a+yBLk/ffBb/R2wKBgHJ6
CIGH47L8wnZhz548iYXc26IGsK+7+qmSO5fLbRKnKtsyWk9V3Bj5aQtaHg7m5jsc
/9tIE8YPKDFoyx+UZmBnqdTKBNi+1TgeK3bzVbsQE3PlQ0sihNC/o8Bb5M/chun2
Tq+PBUl1cRYNVfcJg0+2ULKnVzxALbg+4wfYw+aVAoGAOAOrd5hLg2Apc/tI1gre
aXUR9PaZTLJK6ZKKE4dD/EEMDLZdeySLEE16qMZH6vbclNKyWqAx8ZzTTt+7eWAm
sDrUhvNBoMCvBMBxjXGFI5TgS+Rs/KEmfFPEoKmRJ4SdAcLpLdU3S85Dj5Um970F
QNkY5T/goBAWOlCMFDo+Hf8=
-----END PRIVATE KEY-----
`

const key1 = `
-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQCpZoSmLOHUoK/Y
KKGYyxWCdAyIrNgGQ0W9uu9uW7dbJBU5+uIGkRHMolUiXopqMx0U8Yky+nnGfVwc
7TELjXvKEy4IsmhRHkDYz7v5DfYa/+h1vRZU0qzsZYBqlbQE12A0D5H5sRVBi1kM
OMR7CPgqaYlnBNEWnPZW/89gozgU159CdPE7eYFdvByiujWRc8pkCwnPecBPWt0V
bh5z3Uy9BYJ8jXWGaYcOqia7RHyAffXEs+M5wQw+kxGjG4DNjDl9gNm1m1N4y2Jm
Cg2REwrdFlpWJPnstsOJW9wjrMqnCt0r22szzM3gH81bRIHLaM3H0BthMB5HFi8f
+VXHB0ODAgMBAAECggEAETPLGlGUzfH9ZA7djiBoEEXMSgrSAHIkwGYdz0/6rYOG
BkvEV9Sz1oXQ7bsPr5t+LgodxnKqGsPQg/164rNHlAHg8FrRqL8mPajRbAgEwGwm
r+IiROiEopg8yKtoIFUQvL4CCGBOX3K7pGKVYpsgEbUtkgEVYd2m+bcOLkA/lITA
n/DZ46NQJfWkTFibY65nrkbTvWDdWJBBJ2F/eOE8xs6M+G+4RbiPA80G9Q07/QaW
6Qale4by/pFeufLrVaANIAph8JPtOnbvsxJtNg/8Y35HDR0t/W00pfTgyFCMaoNS
8SeQLDTjij9tRJJD+Q08Hr0xO1GQ4eIRdpKqZLD4+QKBgQDY31r2gk0sytkKhoPc
zAT4iJxKsNp3CaBkC4M1ApDV6NqO68HwbgJMaMUtvB86B4pSfShuNfNZHVzDWcar
e5wlc2jOF/PKiQLVYAh6uUeSV7VNgldLjatin7DGc/e8Hwz0ppVRXpH4gZuBE6Qg
kB82pjBSepLq30hqw7gEacPImQKBgQDH9pUY9VOmtUv79eC3z3ynWewouJlY7K5s
qqZdNJJM3DuuFuaPZM3Nqlk25hi5eJBlpuTt8+tmvcaBPfprh4uJbcXUqWk6FBHw
OLGL2VHIy3Bts9+3xa80MiAFB4hOG3m1IwSKqeHdN64L0rTrTP/oaWjbHuKjPfED
uMs4lAgyewKBgQCOk0BM4Vr1QKIxjj9wT9xQvBbr75qgOX7tZrgqiHZJetz8qreE
Zf4y14oRyCRLVRu1oTyMQAGsq2YJs6KtqAT+hgH3w71tgGeReaH5dIc+CVVTEIZt
UETFALEJtsG+NjehO0bdCKw0UJi34f67vaQXnGgWQSkHKiWEswjuNc4VuQKBgQDE
UGS+lRPkJjeMDS/qpYx27ER7EgiTEgKIct1TwiojxU/eMWN3wfp/ANAHos0BQclZ
0wkMSB2Cx6vb9NImwXMPoDLJ/uxs9YlK8w30A45UeM5PFXn8/NpufwuKhIOgUz8g
w1lRHUm+mkyIFPxDyluve9VS0rakl0pIYiM5z7NggwKBgQC3X6TWK34/YO1opAr4
Ub04EwZNR093NIsNrX1YAWqTd9b+gPNKlNViiLGv4ifOn6YviCm/wKEfy2HMEK/Y
QFMciH/uJhYYQLLHnpbB3a81a+OFIqxUUcKpFQeLLcbdydnHbWI+VMnVOx1knhqy
4Qmy67NCcs7qpRUrSFtOBSbq9A==
-----END PRIVATE KEY-----
`
