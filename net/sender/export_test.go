package sender

// WebcamStyle rewrites an MJPEG file in the webcams' 4:2:2 layout, for the
// external tests' clips.
var WebcamStyle = webcamStyle

// MaxHeld is how many frames the sender holds as references at most.
const MaxHeld = maxHeld
