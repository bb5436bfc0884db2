package sender

// WebcamStyle rewrites an MJPEG file in the webcams' 4:2:2 layout, for the
// external tests' clips.
var WebcamStyle = webcamStyle
