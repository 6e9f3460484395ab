// cxx: C++ program whose imports need demangling.
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
	std::vector<std::string> args(argv, argv + argc);
	for (const auto &a : args)
		std::cout << a << std::endl;
	return 0;
}
