from chassis.runner import main

if __name__ == "__main__":
    main("tests.chassis.chassis_service.settings")
