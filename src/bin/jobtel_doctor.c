/* jobtel_doctor.c - main() of `jobtel-doctor`, run as `jobtel doctor` (see src/doctor/doctor.c). */
#include "doctor/doctor.h"

int main(int argc, char **argv)
{
    return cmd_doctor(argc, argv);
}
