file(READ ${IN} _txt HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_txt}")
file(WRITE ${OUT} "/* generated from configs/demo.yaml */\nconst char aha_demo_yaml[] = {${_bytes} 0x00};\n")
